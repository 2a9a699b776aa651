package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Retry and replay are the two ways a person sends an event again; see
// docs/api.md for when to use which.
//
//   - Retry moves an event's existing failed and dead deliveries back to
//     pending, due now, with a fresh retry budget. The delivery ids, and so
//     the webhook-id header receivers deduplicate on, stay the same: it is
//     "finish what failed", and a receiver that did process an earlier try
//     (but answered badly) can recognise it.
//   - Replay creates new deliveries, with new ids, to every destination the
//     event had deliveries for, whatever their status: it is "send it
//     again", and receivers deduplicating on webhook-id take it as a new
//     message.
func (s *Server) actionRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/webhooks/{id}/retry", Write: true, Summary: "Re-queue an event's failed and dead deliveries (same delivery ids)", handler: s.retryEvent},
		{Method: "POST", Pattern: "/api/webhooks/{id}/replay", Write: true, Summary: "Send an event again to every destination it had, as new deliveries", handler: s.replayEvent},
		{Method: "POST", Pattern: "/api/webhooks/retry", Write: true, Summary: "Re-queue every dead delivery matching a filter, or of the events listed in event_ids (dry_run counts only)", handler: s.bulkRetry},
	}
}

// RetryResponse answers POST /api/webhooks/{id}/retry.
type RetryResponse struct {
	EventID string `json:"event_id"`
	// Requeued counts the deliveries moved back to pending; 0 when none was
	// failed or dead (Message then says so).
	Requeued int    `json:"requeued"`
	Message  string `json:"message,omitempty"`
}

// ReplayResponse answers POST /api/webhooks/{id}/replay.
type ReplayResponse struct {
	EventID string `json:"event_id"`
	// Deliveries counts the new deliveries; DeliveryIDs are their ids (the
	// webhook-id receivers will see).
	Deliveries  int      `json:"deliveries"`
	DeliveryIDs []string `json:"delivery_ids"`
	// Skipped names destinations the event had that are no longer
	// configured: a delivery to them could only fail.
	Skipped []string `json:"skipped,omitempty"`
	Message string   `json:"message,omitempty"`
}

// BulkRetryRequest selects the dead deliveries of POST /api/webhooks/retry:
// those of the events in EventIDs, or else those matching the filter.
// Every field is optional; {} matches every dead delivery.
type BulkRetryRequest struct {
	// EventIDs, when present, selects the dead deliveries of these events
	// (at most MaxBulkRetryEvents; duplicates count once) instead of a
	// filter, and cannot be combined with one. An empty list is refused
	// rather than taken as "no filter".
	EventIDs    []string `json:"event_ids,omitempty"`
	Source      string   `json:"source"`
	Destination string   `json:"destination"`
	// From and To bound the events' received time (RFC 3339), from
	// inclusive, to exclusive.
	From string `json:"from"`
	To   string `json:"to"`
	// Reason keeps only deliveries whose last attempt failed for it (a
	// webhook.FailureReason).
	Reason string `json:"reason,omitempty"`
	DryRun bool   `json:"dry_run"`
}

// MaxBulkRetryEvents bounds BulkRetryRequest.EventIDs: a page of the
// dashboard's largest size five times over, and few enough that one
// request stays well under a second.
const MaxBulkRetryEvents = 1000

// BulkRetryResponse answers POST /api/webhooks/retry.
type BulkRetryResponse struct {
	// Matched counts the dead deliveries the filter selects.
	Matched int `json:"matched"`
	// Requeued counts those moved back to pending: Matched, or 0 for a dry
	// run. With event_ids it can be lower than Matched when a delivery
	// changed meanwhile (another retry moved it first).
	Requeued int  `json:"requeued"`
	DryRun   bool `json:"dry_run"`
	// NotFound lists the event_ids that name no stored event (retention
	// may have deleted them since they were listed); the others are still
	// retried.
	NotFound []string `json:"not_found,omitempty"`
}

// eventForAction checks the path's event id and that the event exists.
func (s *Server) eventForAction(r *http.Request) (webhook.Event, error) {
	id := r.PathValue("id")
	if !validEventID(id) {
		return webhook.Event{}, invalid("id", "%q is not an event id", id)
	}
	return s.opts.Store.EventGet(r.Context(), id)
}

func (s *Server) retryEvent(w http.ResponseWriter, r *http.Request) error {
	ev, err := s.eventForAction(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := s.opts.Now().UTC()
	n, err := s.opts.Store.DeliveryRequeue(ctx, store.DeliveryRequeueParams{
		EventID: ev.ID, Statuses: []webhook.Status{webhook.StatusFailed, webhook.StatusPermanentFailure}, Now: now,
	})
	if err != nil {
		return err
	}
	out := RetryResponse{EventID: ev.ID, Requeued: n}
	if n == 0 {
		out.Message = "no failed or dead delivery to retry (deliveries in flight, pending or succeeded are left alone; use replay to send again)"
	} else {
		deliveries, err := s.opts.Store.DeliveryListByEvent(ctx, ev.ID)
		if err != nil {
			return err
		}
		var items []queue.Item
		for _, d := range deliveries {
			if d.Status == webhook.StatusPending {
				items = append(items, queue.Item{DeliveryID: d.ID, Destination: d.Destination, DueAt: now})
			}
		}
		s.notify(ctx, items)
	}
	s.log.Info("event retried", "event", ev.ID, "requeued", n)
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) replayEvent(w http.ResponseWriter, r *http.Request) error {
	ev, err := s.eventForAction(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	existing, err := s.opts.Store.DeliveryListByEvent(ctx, ev.ID)
	if err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	out := ReplayResponse{EventID: ev.ID, DeliveryIDs: []string{}}
	seen := map[string]bool{}
	var fresh []webhook.Delivery
	var items []queue.Item
	for _, d := range existing {
		if seen[d.Destination] {
			continue // replayed before: one new delivery per destination
		}
		seen[d.Destination] = true
		dest, ok := s.opts.Catalog.Destination(d.Destination)
		if !ok {
			out.Skipped = append(out.Skipped, d.Destination)
			continue
		}
		nd := webhook.Delivery{
			ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: d.Destination, Status: webhook.StatusPending,
			NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		}
		s.orderReplay(ctx, &nd, &dest, ev)
		fresh = append(fresh, nd)
		items = append(items, queue.Item{DeliveryID: nd.ID, Destination: nd.Destination, DueAt: now})
		out.DeliveryIDs = append(out.DeliveryIDs, nd.ID)
	}
	if len(fresh) > 0 {
		if err := s.opts.Store.DeliveryInsertMany(ctx, fresh); err != nil {
			return err
		}
		s.notify(ctx, items)
	}
	out.Deliveries = len(fresh)
	switch {
	case len(existing) == 0:
		out.Message = "the event had no deliveries (no destination was subscribed to it): nothing to replay"
	case len(fresh) == 0:
		out.Message = "none of the event's destinations is configured any more: nothing to replay"
	}
	s.log.Info("event replayed", "event", ev.ID, "deliveries", len(fresh), "skipped", len(out.Skipped))
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) bulkRetry(w http.ResponseWriter, r *http.Request) error {
	var req BulkRetryRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.EventIDs != nil {
		return s.retryEvents(w, r, req)
	}
	p := store.DeliveryRequeueDeadParams{Source: req.Source, Destination: req.Destination, DryRun: req.DryRun}
	if req.Source != "" {
		if err := catalog.ValidateName(req.Source); err != nil {
			return invalid("source", "%q is not a source name", req.Source)
		}
	}
	if req.Destination != "" {
		if err := catalog.ValidateName(req.Destination); err != nil {
			return invalid("destination", "%q is not a destination name", req.Destination)
		}
	}
	if req.Reason != "" {
		reason, err := webhook.ParseFailureReason(req.Reason)
		if err != nil {
			return invalid("reason", "%q is not a failure reason (see GET /api/dead-letters/reasons)", req.Reason)
		}
		p.Reason = reason
	}
	for _, f := range []struct {
		name, value string
		dst         *time.Time
	}{{"from", req.From, &p.From}, {"to", req.To, &p.To}} {
		if f.value == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.value)
		if err != nil {
			return invalid(f.name, "%q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", f.value)
		}
		*f.dst = t
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.From.Before(p.To) {
		return invalid("to", "must be after from")
	}
	p.Now = s.opts.Now().UTC()
	n, err := s.opts.Store.DeliveryRequeueDead(r.Context(), p)
	if err != nil {
		return err
	}
	out := BulkRetryResponse{Matched: n, DryRun: req.DryRun}
	if !req.DryRun {
		out.Requeued = n
		if n > 0 {
			// The store does not say which deliveries moved; an empty list
			// tells the queue to look again (the embedded queue only
			// wakes its claimer anyway).
			s.notify(r.Context(), nil)
		}
		s.log.Info("dead deliveries retried", "requeued", n, "source", req.Source, "destination", req.Destination)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// retryEvents is the bulk retry of the dead deliveries of the events in
// req.EventIDs in one store call (one transaction; with MongoDB one write
// per event): repeating the request is safe, what moved is no longer dead.
func (s *Server) retryEvents(w http.ResponseWriter, r *http.Request, req BulkRetryRequest) error {
	for _, f := range []struct{ name, value string }{
		{"source", req.Source}, {"destination", req.Destination}, {"from", req.From}, {"to", req.To}, {"reason", req.Reason},
	} {
		if f.value != "" {
			return invalid("event_ids", "cannot be combined with a filter (%s): send one or the other", f.name)
		}
	}
	switch n := len(req.EventIDs); {
	case n == 0:
		return invalid("event_ids", "must name at least one event (leave it out to retry by filter)")
	case n > MaxBulkRetryEvents:
		return invalid("event_ids", "at most %d events per request, got %d", MaxBulkRetryEvents, n)
	}
	var events []string
	seen := make(map[string]bool, len(req.EventIDs))
	for i, id := range req.EventIDs {
		if !validEventID(id) {
			return invalid(fmt.Sprintf("event_ids[%d]", i), "%q is not an event id", id)
		}
		if !seen[id] {
			seen[id] = true
			events = append(events, id)
		}
	}
	ctx := r.Context()
	out := BulkRetryResponse{DryRun: req.DryRun}
	p := store.DeliveryRequeueDeadParams{EventIDs: events, Now: s.opts.Now().UTC(), DryRun: req.DryRun}
	withDead := map[string]bool{}
	if req.DryRun {
		n, err := s.opts.Store.DeliveryRequeueDead(ctx, p)
		if err != nil {
			return err
		}
		out.Matched = n
	} else {
		moved, err := s.opts.Store.DeliveryRequeueDeadBatch(ctx, p)
		if err != nil {
			return err
		}
		items := make([]queue.Item, len(moved))
		for i, d := range moved {
			items[i] = queue.Item{DeliveryID: d.ID, Destination: d.Destination, DueAt: d.NextAttemptAt}
			withDead[d.EventID] = true
		}
		out.Matched, out.Requeued = len(moved), len(moved)
		if len(moved) > 0 {
			s.notify(ctx, items)
		}
	}
	// Name the events that are not stored (retention may have deleted
	// them since they were listed); those that had dead deliveries exist.
	for _, id := range events {
		if withDead[id] {
			continue
		}
		deliveries, err := s.opts.Store.DeliveryListByEvent(ctx, id)
		if err != nil {
			return err
		}
		if len(deliveries) > 0 {
			continue
		}
		if _, err := s.opts.Store.EventGet(ctx, id); errors.Is(err, webhook.ErrNotFound) {
			out.NotFound = append(out.NotFound, id)
		} else if err != nil {
			return err
		}
	}
	if !req.DryRun {
		s.log.Info("dead deliveries retried", "requeued", out.Requeued, "events", len(withDead), "not_found", len(out.NotFound))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// notify wakes delivery for deliveries made due. The rows are committed
// already, so a failed notification costs only latency (the engine polls),
// never a delivery: it is logged, not returned.
func (s *Server) notify(ctx context.Context, items []queue.Item) {
	if s.opts.Queue == nil {
		return
	}
	if err := s.opts.Queue.Notify(ctx, items); err != nil {
		s.log.Warn("queue notify failed; delivery will pick the work up at its next poll", "err", err)
	}
}
