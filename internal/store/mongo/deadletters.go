package mongo

import (
	"context"
	"errors"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// deadFilter returns the filter of the events that may hold dead
// deliveries matching p, and the test each of their deliveries must pass.
// The event columns narrow the query; the rest is checked per delivery,
// since deliveries live inside their event's document.
func deadFilter(p store.DeliveryRequeueDeadParams) (bson.M, func(d *deliveryDoc) bool) {
	filter := eventFilter(store.EventListParams{Source: p.Source, Destination: p.Destination, From: p.From, To: p.To})
	filter["dl.status"] = string(webhook.StatusPermanentFailure)
	if len(p.EventIDs) > 0 {
		filter["_id"] = bson.M{"$in": p.EventIDs}
	}
	deadBefore := tm(p.DeadBefore)
	dead := func(d *deliveryDoc) bool {
		return d.Status == string(webhook.StatusPermanentFailure) &&
			(p.Destination == "" || d.Destination == p.Destination) &&
			(p.Reason == "" || d.LastReason == string(p.Reason)) &&
			(p.DeadBefore.IsZero() || d.Updated <= deadBefore) &&
			(p.After == "" || d.ID > p.After)
	}
	return filter, dead
}

// DeliveryRequeueDeadBatch implements store.Store. MongoDB (and FerretDB)
// give no transaction over several documents here: each event's deliveries
// of the page move in one atomic write of its document, so a failure
// halfway leaves the page's first events requeued; calling again with
// the same After picks up the rest, since those are still dead.
func (s *Store) DeliveryRequeueDeadBatch(ctx context.Context, p store.DeliveryRequeueDeadParams) ([]webhook.Delivery, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	filter, dead := deadFilter(p)
	var page []webhook.Delivery
	err := s.forEachDelivery(ctx, filter, func(e *eventDoc, d *deliveryDoc) {
		if dead(d) {
			page = append(page, webhook.Delivery{ID: d.ID, EventID: e.ID, Destination: d.Destination})
		}
	})
	if err != nil {
		return nil, s.fail("requeue dead batch", err)
	}
	sort.Slice(page, func(i, j int) bool { return page[i].ID < page[j].ID })
	if p.Limit > 0 && len(page) > p.Limit {
		page = page[:p.Limit]
	}
	byEvent := map[string]map[string]bool{}
	var order []string
	for _, d := range page {
		if byEvent[d.EventID] == nil {
			byEvent[d.EventID] = map[string]bool{}
			order = append(order, d.EventID)
		}
		byEvent[d.EventID][d.ID] = true
	}
	now := tm(p.Now)
	movedIDs := map[string]bool{}
	for _, id := range order {
		var n []string
		_, wrote, err := s.modify(ctx, id, nil, func(e *eventDoc) error {
			n = n[:0]
			for i := range e.Deliveries {
				// Still dead and still matching: another writer may have
				// moved it since the scan.
				if d := &e.Deliveries[i]; byEvent[id][d.ID] && dead(d) {
					requeue(d, now)
					n = append(n, d.ID)
				}
			}
			if len(n) == 0 {
				return errSkip
			}
			return nil
		})
		if errors.Is(err, webhook.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, s.fail("requeue dead batch", err)
		}
		if wrote {
			for _, d := range n {
				movedIDs[d] = true
			}
		}
	}
	moved := page[:0]
	for _, d := range page {
		if movedIDs[d.ID] {
			d.Status, d.NextAttemptAt, d.UpdatedAt = webhook.StatusPending, p.Now, p.Now
			moved = append(moved, d)
		}
	}
	return moved, nil
}

// DeliveryCountDeadByReason implements store.Store.
func (s *Store) DeliveryCountDeadByReason(ctx context.Context, p store.DeliveryCountDeadParams) ([]store.ReasonCount, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	filter, dead := deadFilter(store.DeliveryRequeueDeadParams{Source: p.Source, Destination: p.Destination, From: p.From, To: p.To})
	counts := map[webhook.FailureReason]int64{}
	err := s.forEachDelivery(ctx, filter, func(_ *eventDoc, d *deliveryDoc) {
		if dead(d) {
			counts[webhook.FailureReason(d.LastReason)]++
		}
	})
	if err != nil {
		return nil, s.fail("count dead by reason", err)
	}
	out := make([]store.ReasonCount, 0, len(counts))
	for r, n := range counts {
		out = append(out, store.ReasonCount{Reason: r, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out, nil
}
