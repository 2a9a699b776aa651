package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

func (s *Server) webhookRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/webhooks", Summary: "List events, newest first, filtered and paged", handler: s.listWebhooks},
		{Method: "GET", Pattern: "/api/webhooks/{id}", Summary: "One event with its payload, headers, deliveries and attempts", handler: s.getWebhook},
		{Method: "GET", Pattern: "/api/sources", Summary: "Sources with their event counts by status", handler: s.listSources},
	}
}

// Paging limits of GET /api/webhooks.
const (
	DefaultLimit = 20
	MaxLimit     = 200
)

// EventView is an event as listed.
type EventView struct {
	ID             string         `json:"id"`
	Source         string         `json:"source"`
	Type           string         `json:"type"`
	Status         webhook.Status `json:"status"`
	ReceivedAt     time.Time      `json:"received_at"`
	ContentType    string         `json:"content_type"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	BodySize       int            `json:"body_size"`
	Deliveries     int            `json:"deliveries"`
	Attempts       int            `json:"attempts"`
	LastError      string         `json:"last_error,omitempty"`
}

// EventPage is the answer of GET /api/webhooks.
type EventPage struct {
	Items []EventView `json:"items"`
	Page  int         `json:"page"`
	Limit int         `json:"limit"`
	Total int64       `json:"total"`
	// NextCursor, passed as cursor=, gives the next page by keyset: fast at
	// any depth. Empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

var eventIDPattern = regexp.MustCompile(`^evt_[0-9A-HJKMNP-TV-Z]{26}$`)

// validEventID reports whether id has the shape of an event id.
func validEventID(id string) bool { return eventIDPattern.MatchString(id) }

// eventFilter reads the filters shared by listing, export and bulk retry.
// Every bad value is a 400 naming its parameter.
func (s *Server) eventFilter(q url.Values) (store.EventListParams, error) {
	var p store.EventListParams
	for name := range q {
		switch name {
		case "status", "source", "destination", "type", "q", "from", "to", "page", "limit", "cursor", "format":
		default:
			return p, invalid(name, "unknown parameter")
		}
	}
	if v := q.Get("status"); v != "" {
		st, err := webhook.ParseStatus(v)
		if err != nil {
			return p, invalid("status", "%q is not one of pending, success, failed, permanent_failure", v)
		}
		p.Status = st
	}
	if v := q.Get("source"); v != "" {
		if err := catalog.ValidateName(v); err != nil {
			return p, invalid("source", "%q is not a source name", v)
		}
		p.Source = v
	}
	if v := q.Get("destination"); v != "" {
		if err := catalog.ValidateName(v); err != nil {
			return p, invalid("destination", "%q is not a destination name", v)
		}
		p.Destination = v
	}
	if v := q.Get("type"); v != "" {
		if len(v) > 256 {
			return p, invalid("type", "longer than 256 characters")
		}
		p.Type = v
	}
	if v := q.Get("q"); v != "" {
		if len(v) > 256 {
			return p, invalid("q", "longer than 256 characters")
		}
		p.Query = v
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &p.From}, {"to", &p.To}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return p, invalid(f.name, "%q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", v)
			}
			*f.dst = t
		}
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.From.Before(p.To) {
		return p, invalid("to", "must be after from")
	}
	return p, nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := s.eventFilter(q)
	if err != nil {
		return err
	}
	if q.Get("format") != "" {
		return invalid("format", "only for /api/webhooks/export")
	}
	page, limit := 1, DefaultLimit
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			return invalid("page", "%q is not a page number (1 or more)", v)
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxLimit {
			return invalid("limit", "%q is not between 1 and %d", v, MaxLimit)
		}
	}
	if v := q.Get("cursor"); v != "" {
		if !validEventID(v) {
			return invalid("cursor", "%q is not an event id", v)
		}
		p.Before = v
	}
	p.Limit, p.Offset = limit, (page-1)*limit
	res, err := s.opts.Store.EventList(r.Context(), p)
	if err != nil {
		return err
	}
	if page > 1 && len(res.Items) == 0 {
		last := max(1, int((res.Total+int64(limit)-1)/int64(limit)))
		return invalid("page", "%d is beyond the last page (%d)", page, last)
	}
	out := EventPage{Items: make([]EventView, 0, len(res.Items)), Page: page, Limit: limit, Total: res.Total}
	for _, e := range res.Items {
		out.Items = append(out.Items, eventView(e))
	}
	if len(res.Items) == limit && int64(p.Offset+limit) < res.Total {
		out.NextCursor = res.Items[len(res.Items)-1].ID
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func eventView(e webhook.EventSummary) EventView {
	return EventView{
		ID: e.ID, Source: e.Source, Type: e.Type, Status: e.Status, ReceivedAt: e.ReceivedAt,
		ContentType: e.ContentType, IdempotencyKey: e.IdempotencyKey, BodySize: e.BodySize,
		Deliveries: e.Deliveries, Attempts: e.Attempts, LastError: e.LastError,
	}
}

// EventDetail is the answer of GET /api/webhooks/{id}.
type EventDetail struct {
	EventView
	// Payload is the raw body: as text when it is valid UTF-8
	// (PayloadEncoding "text"), else base64 ("base64").
	Payload         string            `json:"payload"`
	PayloadEncoding string            `json:"payload_encoding"`
	Headers         map[string]string `json:"headers"`
	DeliveryList    []DeliveryView    `json:"delivery_list"`
}

// DeliveryView is a delivery with its attempts.
type DeliveryView struct {
	ID            string         `json:"id"`
	Destination   string         `json:"destination"`
	Status        webhook.Status `json:"status"`
	Attempts      int            `json:"attempts"`
	NextAttemptAt *time.Time     `json:"next_attempt_at,omitempty"`
	LastError     string         `json:"last_error,omitempty"`
	// LastReason is the failure reason of the last attempt
	// (docs/delivery.md#dead-letters); absent after a success.
	LastReason  webhook.FailureReason `json:"last_reason,omitempty"`
	CreatedAt   time.Time             `json:"created_at"`
	UpdatedAt   time.Time             `json:"updated_at"`
	AttemptList []AttemptView         `json:"attempt_list"`
}

// AttemptView is one HTTP try.
type AttemptView struct {
	ID         string    `json:"id"`
	Number     int       `json:"number"`
	StartedAt  time.Time `json:"started_at"`
	DurationMs float64   `json:"duration_ms"`
	StatusCode int       `json:"status_code,omitempty"`
	// Response is the first KiB of the answer, encoded like the payload.
	Response         string `json:"response,omitempty"`
	ResponseEncoding string `json:"response_encoding,omitempty"`
	Error            string `json:"error,omitempty"`
	// Reason classifies Error in a fixed vocabulary; absent on success.
	Reason webhook.FailureReason `json:"reason,omitempty"`
}

// encodeBytes returns b as text when it is UTF-8, else as base64.
func encodeBytes(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), "text"
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !validEventID(id) {
		return invalid("id", "%q is not an event id", id)
	}
	ctx := r.Context()
	ev, err := s.opts.Store.EventGet(ctx, id)
	if err != nil {
		return err
	}
	deliveries, err := s.opts.Store.DeliveryListByEvent(ctx, id)
	if err != nil {
		return err
	}
	out := EventDetail{Headers: ev.Headers, DeliveryList: make([]DeliveryView, 0, len(deliveries))}
	out.EventView = eventView(webhook.EventSummary{Event: ev, BodySize: len(ev.Body), Deliveries: len(deliveries)})
	out.Payload, out.PayloadEncoding = encodeBytes(ev.Body)
	for _, d := range deliveries {
		attempts, err := s.opts.Store.AttemptListByDelivery(ctx, d.ID)
		if err != nil {
			return err
		}
		dv := DeliveryView{
			ID: d.ID, Destination: d.Destination, Status: d.Status, Attempts: d.Attempts,
			LastError: d.LastError, LastReason: d.LastReason, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, AttemptList: make([]AttemptView, 0, len(attempts)),
		}
		if !d.Status.Terminal() {
			next := d.NextAttemptAt
			dv.NextAttemptAt = &next
		}
		for _, a := range attempts {
			av := AttemptView{ID: a.ID, Number: a.Number, StartedAt: a.StartedAt, DurationMs: float64(a.Duration.Microseconds()) / 1000,
				StatusCode: a.StatusCode, Error: a.Error, Reason: a.Reason}
			if len(a.ResponseBody) > 0 {
				av.Response, av.ResponseEncoding = encodeBytes(a.ResponseBody)
			}
			dv.AttemptList = append(dv.AttemptList, av)
		}
		out.Attempts += len(attempts)
		out.DeliveryList = append(out.DeliveryList, dv)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// SourceView is a source with its event counts.
type SourceView struct {
	Name         string                   `json:"name"`
	Origin       catalog.Origin           `json:"origin,omitempty"`
	MaxBodyBytes int64                    `json:"max_body_bytes,omitempty"`
	Verify       string                   `json:"verify"`
	Counts       map[webhook.Status]int64 `json:"counts"`
	Total        int64                    `json:"total"`
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) error {
	counts, err := s.opts.Store.EventCountBySource(r.Context())
	if err != nil {
		return err
	}
	byName := map[string]*SourceView{}
	var order []string
	view := func(name string) *SourceView {
		if v, ok := byName[name]; ok {
			return v
		}
		v := &SourceView{Name: name, Verify: "none", Counts: map[webhook.Status]int64{}}
		for _, st := range []webhook.Status{webhook.StatusPending, webhook.StatusSuccess, webhook.StatusFailed, webhook.StatusPermanentFailure} {
			v.Counts[st] = 0
		}
		byName[name] = v
		order = append(order, name)
		return v
	}
	for _, e := range s.opts.Catalog.Sources() {
		v := view(e.Value.Name)
		v.Origin, v.MaxBodyBytes = e.Origin, e.Value.MaxBodyBytes
		if e.Value.Verify.Type != "" {
			v.Verify = e.Value.Verify.Type
		}
	}
	for _, c := range counts {
		v := view(c.Source) // a source removed since still has its events
		for st, n := range c.Counts {
			v.Counts[st] += n
			v.Total += n
		}
	}
	items := make([]SourceView, 0, len(order))
	for _, n := range order {
		items = append(items, *byName[n])
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}
