// Package ingest owns POST /webhook/{source}: it checks the source and its
// verification, reads the raw body within the source's limit, stores the
// event with one pending delivery per subscribed destination, and answers
// 202 only after that is durable. Concurrent requests share one store
// transaction (group commit) through a batcher, so durability costs one
// fsync per batch rather than per request. After the commit it notifies the
// queue; if that notification is lost, the delivery engine's poll finds the
// rows anyway.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/batch"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/ordering"
	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/verify"
	"github.com/hookd/hookd/internal/webhook"
)

// Inserter is the store method ingest needs.
type Inserter interface {
	EventInsertMany(ctx context.Context, params []store.EventInsertParams) ([]store.EventInsertResult, error)
}

// Notifier wakes the delivery engine after a commit.
type Notifier interface {
	Notify(ctx context.Context, items []queue.Item) error
}

// Catalog answers which sources exist and which destinations subscribe.
type Catalog interface {
	Source(name string) (webhook.Source, bool)
	Destinations() []webhook.Destination
	// Filter returns a destination's compiled filter (nil when it has
	// none), compiled once when the destination was loaded or saved.
	Filter(name string) *route.Filter
}

// Options configure a Handler.
type Options struct {
	Store   Inserter
	Queue   Notifier
	Catalog Catalog
	Logger  *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// MaxBatch bounds how many events share one transaction. Default 256.
	MaxBatch int
	// Publisher, when set, hears of every new event after its commit (the
	// live stream). It must not block.
	Publisher Publisher
	// Observer, when set, hears how every request ended (metrics,
	// tracing). It must not block.
	Observer Observer
}

// Observer hears of every webhook request once it is answered.
type Observer interface {
	Ingested(r *http.Request, rep Report)
}

// Report is how one webhook request ended.
type Report struct {
	// Source is the configured source's name; empty when the path named
	// none, so that a scanner's made-up names never become metric labels.
	Source string
	// EventID is the stored event's id (the first one's for a duplicate);
	// empty when nothing was stored.
	EventID   string
	Duplicate bool
	// Status is the HTTP status answered.
	Status int
	// StoreFailed and NotifyFailed tell that the store refused the event
	// (the client got 500) or that the queue missed the notification (the
	// event is safe; the engine's poll finds it).
	StoreFailed, NotifyFailed bool
	// Started is when the request reached ingest.
	Started time.Time
	// FilterErrors names the destinations whose filter failed on the
	// event (which therefore does not go to them).
	FilterErrors []string
}

// Publisher takes live status changes.
type Publisher interface {
	Publish(c stream.Change)
}

// Handler serves POST /webhook/{source}.
type Handler struct {
	opts    Options
	batcher *batch.Batcher[store.EventInsertParams, insertOutcome]
	keyer   *ordering.Keyer
}

// New returns a Handler; call Start before serving and Stop after.
func New(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{opts: opts, keyer: ordering.NewKeyer()}
	h.batcher = batch.New(opts.MaxBatch, h.insert)
	return h
}

// insertOutcome is one event's result within a batch.
type insertOutcome struct {
	res store.EventInsertResult
	err error
}

// insert stores a batch in one transaction. If the batch fails, each event
// is tried alone, so that one event the store refuses costs only its own
// request a 500, never the other requests that shared its batch.
func (h *Handler) insert(ctx context.Context, params []store.EventInsertParams) ([]insertOutcome, error) {
	out := make([]insertOutcome, len(params))
	results, err := h.opts.Store.EventInsertMany(ctx, params)
	if err == nil {
		for i, r := range results {
			out[i].res = r
		}
		return out, nil
	}
	if len(params) == 1 {
		out[0].err = err
		return out, nil
	}
	h.opts.Logger.Warn("batch insert failed; retrying its events one by one", "events", len(params), "err", err)
	for i, p := range params {
		one, err := h.opts.Store.EventInsertMany(ctx, []store.EventInsertParams{p})
		if err != nil {
			out[i].err = err
			continue
		}
		out[i].res = one[0]
	}
	return out, nil
}

// Start starts the group-commit loop.
func (h *Handler) Start(ctx context.Context) error {
	return h.batcher.Start(context.WithoutCancel(ctx))
}

// Stop commits what is queued and refuses further events. The HTTP server
// must have stopped first; requests still arriving get 503.
func (h *Handler) Stop() { h.batcher.Stop() }

// Response is the body of a 202.
type Response struct {
	ID     string         `json:"id"`
	Status webhook.Status `json:"status"`
	// Duplicate is set when the provider's delivery id was seen before and
	// ID names the first event.
	Duplicate bool `json:"duplicate,omitempty"`
}

// ServeHTTP implements http.Handler for a request routed with the source
// name in the "source" path value.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := Report{Started: h.opts.Now()}
	if err := h.serve(w, r, &rep); err != nil {
		httpx.WriteError(w, r, h.opts.Logger, err)
		rep.Status = httpx.Classify(err).Status
	}
	if h.opts.Observer != nil {
		h.opts.Observer.Ingested(r, rep)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rep *Report) error {
	name := r.PathValue("source")
	src, ok := h.opts.Catalog.Source(name)
	if !ok {
		return fmt.Errorf("source %q: %w", name, webhook.ErrUnknownSource)
	}
	rep.Source = src.Name
	// The verifier is compiled per request: it costs well under a
	// microsecond (BenchmarkNew in internal/verify), less than the HMAC it
	// guards, and the catalog may swap a source's settings at any moment.
	ver, err := verify.New(src.Verify)
	if err != nil {
		// The catalog validates settings; reaching here is a bug, and the
		// anonymous client must not see the configuration's details.
		return fmt.Errorf("source %q: verification settings: %v", src.Name, err)
	}
	// A client outside the allow-list is refused before its body is read.
	// RemoteAddr is the client behind a trusted proxy (internal/clientip
	// rewrote it), else the TCP peer.
	if err := ver.CheckAddr(r.RemoteAddr); err != nil {
		return refusal(w, ver, err)
	}
	if r.ContentLength > src.MaxBodyBytes {
		return webhook.ErrBodyTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, src.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return webhook.ErrBodyTooLarge
		}
		return httpx.Errorf(http.StatusBadRequest, "bad_body", "could not read request body")
	}
	if err := ver.Verify(r, body, h.opts.Now()); err != nil {
		return refusal(w, ver, err)
	}
	if ver.Scheme() == webhook.VerifySlack {
		if challenge, ok := slackChallenge(r.Header.Get("Content-Type"), body); ok {
			// Slack's Events API checks a new request URL with a signed
			// url_verification request and expects its challenge back; it is
			// a handshake, not an event, so nothing is stored.
			httpx.WriteJSON(w, http.StatusOK, map[string]string{"challenge": challenge})
			rep.Status = http.StatusOK
			return nil
		}
	}
	ev, err := h.newEvent(src, r, body, ver.CredentialHeader())
	if err != nil {
		return err
	}
	params := store.EventInsertParams{Event: ev}
	fan := fanOut{h: h, req: r.Context()}
	for _, d := range h.opts.Catalog.Destinations() {
		if d.Wants(ev.Source, ev.Type) && (d.Filter == "" || fan.filterWants(d, ev)) {
			dl := webhook.Delivery{
				ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: d.Name,
				Status: webhook.StatusPending, NextAttemptAt: ev.ReceivedAt, CreatedAt: ev.ReceivedAt,
			}
			if d.Ordering != nil {
				dl.Ordered = true
				dl.OrderingKey = h.orderingKey(r.Context(), &d, ev, &fan)
			}
			params.Deliveries = append(params.Deliveries, dl)
		}
	}
	fan.done()
	rep.FilterErrors = fan.failed
	if len(params.Deliveries) == 0 {
		params.Event.Status = webhook.StatusSuccess // nothing to deliver
	}
	outcome, err := h.batcher.Do(r.Context(), params)
	if err == nil {
		err = outcome.err
	}
	if err != nil {
		rep.StoreFailed = true
		return fmt.Errorf("store event: %w", err)
	}
	res := outcome.res
	rep.EventID, rep.Duplicate = res.ID, res.Duplicate
	if !res.Duplicate && len(params.Deliveries) > 0 {
		items := make([]queue.Item, len(params.Deliveries))
		for i, d := range params.Deliveries {
			items[i] = queue.Item{DeliveryID: d.ID, Destination: d.Destination, DueAt: d.NextAttemptAt}
		}
		if err := h.opts.Queue.Notify(r.Context(), items); err != nil {
			// The event is durable; the engine's poll will find it.
			h.opts.Logger.Warn("queue notify failed", "event", res.ID, "err", err)
			rep.NotifyFailed = true
		}
	}
	if !res.Duplicate && h.opts.Publisher != nil {
		h.opts.Publisher.Publish(stream.Change{Kind: stream.KindEventCreated, EventID: res.ID, Source: ev.Source,
			EventType: ev.Type, Status: res.Status, At: ev.ReceivedAt})
	}
	httpx.WriteJSON(w, http.StatusAccepted, Response{ID: res.ID, Status: res.Status, Duplicate: res.Duplicate})
	rep.Status = http.StatusAccepted
	return nil
}

// orderingKey is the event's ordering key for an ordered destination. A
// key that cannot be computed never fails the request: the event joins the
// destination's fallback sequence "" (still delivered in order with the
// other keyless events) and a warning says why.
func (h *Handler) orderingKey(ctx context.Context, d *webhook.Destination, ev webhook.Event, fan *fanOut) string {
	key, err := h.keyer.Key(ctx, d, func() map[string]any { return fan.inputOf(ev) })
	if err != nil {
		h.opts.Logger.Warn("ordering key not computed; the event joins the fallback sequence", "event", ev.ID, "destination", d.Name, "err", err)
	}
	return key
}

// refusal turns a verification failure into the client's answer: 403 when
// the client address is not allowed, otherwise 401 (with a Basic challenge
// for the basic scheme). The message says which header was missing,
// malformed, stale or wrong, never a secret or an expected signature.
func refusal(w http.ResponseWriter, ver *verify.Verifier, err error) error {
	var ve *verify.Error
	if errors.Is(err, verify.ErrForbidden) && errors.As(err, &ve) {
		return &httpx.Error{Status: http.StatusForbidden, Code: "forbidden_address", Message: ve.Detail(), Err: err}
	}
	if ver.Scheme() == webhook.VerifyBasic {
		w.Header().Set("WWW-Authenticate", `Basic realm="hookd", charset="UTF-8"`)
	}
	return err
}

// slackChallenge returns the challenge of a Slack url_verification request.
func slackChallenge(contentType string, body []byte) (string, bool) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/json" {
		return "", false
	}
	var req struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(body, &req) != nil || req.Type != "url_verification" || req.Challenge == "" {
		return "", false
	}
	return req.Challenge, true
}

// droppedHeaders are credentials that must not be stored or shown.
var droppedHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
}

// MaxIdempotencyKey bounds the provider delivery id that is stored.
const MaxIdempotencyKey = 255

// MaxEventType bounds a stored event type; longer ones are cut.
const MaxEventType = 256

// cleanText makes a provider-chosen string safe to store and show: valid
// UTF-8, no control characters (PostgreSQL text refuses NUL), at most max
// bytes (cut on a character boundary).
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	for len(s) > max {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// newEvent builds the event to store. credential names a header that
// carries the source's reusable credential (verify.Verifier's
// CredentialHeader), dropped like Authorization and cookies.
func (h *Handler) newEvent(src webhook.Source, r *http.Request, body []byte, credential string) (webhook.Event, error) {
	ev := webhook.Event{
		ID:          ids.New(ids.Event),
		Source:      src.Name,
		Body:        body,
		ContentType: r.Header.Get("Content-Type"),
		Headers:     make(map[string]string, len(r.Header)),
		ReceivedAt:  h.opts.Now().UTC(),
		Status:      webhook.StatusPending,
	}
	for k, v := range r.Header {
		if !droppedHeaders[k] && k != credential {
			ev.Headers[k] = strings.Join(v, ", ")
		}
	}
	fields := bodyFields(ev.ContentType, body)
	ev.Type = cleanText(EventType(r.Header, fields), MaxEventType)
	ev.IdempotencyKey = cleanText(IdempotencyKey(r.Header, fields), math.MaxInt) // refused below when too long
	if len(ev.IdempotencyKey) > MaxIdempotencyKey {
		return ev, fmt.Errorf("%w: idempotency key longer than %d bytes", webhook.ErrInvalid, MaxIdempotencyKey)
	}
	return ev, nil
}

// Fields are the body fields ingest looks at.
type Fields struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Action string `json:"action"`
	// EventType and EventID are Slack's Events API "event"."type" and
	// "event_id": its top-level type is always "event_callback".
	EventType string
	EventID   string
	// Command is a Slack slash command ("/deploy"), from a form body.
	Command string
}

// bodyFields reads id, type and action (and Slack's event.type and
// event_id) from a JSON object body, or from the JSON in the "payload"
// field of a form body (GitHub's form content type, Slack's interactive
// components); and a form's "command" (Slack's slash commands). Anything
// else yields zero Fields: webhooks need not be JSON.
func bodyFields(contentType string, body []byte) Fields {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return Fields{}
		}
		f := jsonFields([]byte(form.Get("payload")))
		f.Command = form.Get("command")
		return f
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return Fields{}
	}
	return jsonFields(body)
}

// jsonFields reads Fields from a JSON object; fields of another JSON type
// are left empty.
func jsonFields(body []byte) Fields {
	var raw struct {
		ID      json.RawMessage `json:"id"`
		Type    json.RawMessage `json:"type"`
		Action  json.RawMessage `json:"action"`
		EventID json.RawMessage `json:"event_id"`
		Event   json.RawMessage `json:"event"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return Fields{}
	}
	str := func(m json.RawMessage) string {
		var s string
		if json.Unmarshal(m, &s) != nil {
			return ""
		}
		return s
	}
	var event struct {
		Type json.RawMessage `json:"type"`
	}
	_ = json.Unmarshal(raw.Event, &event) // not an object: no event type
	return Fields{ID: str(raw.ID), Type: str(raw.Type), Action: str(raw.Action), EventID: str(raw.EventID), EventType: str(event.Type)}
}

// fromSlack reports whether a request carries Slack's signing headers.
func fromSlack(h http.Header) bool {
	return h.Get("X-Slack-Signature") != "" || h.Get("X-Slack-Request-Timestamp") != ""
}

// EventType names the event from the provider's header or body: GitHub's
// X-GitHub-Event joined with the body's action ("issues.opened"), Shopify's
// X-Shopify-Topic, a generic X-Event-Type or X-Webhook-Event; for Slack,
// the Events API's inner event type ("app_mention"), else the body's type
// ("url_verification", "block_actions"), else the slash command
// ("/deploy"); else the body's "type" (Stripe, Standard Webhooks). Empty
// when none is found.
func EventType(h http.Header, f Fields) string {
	if t := h.Get("X-GitHub-Event"); t != "" {
		if f.Action != "" {
			return t + "." + f.Action
		}
		return t
	}
	for _, k := range []string{"X-Shopify-Topic", "X-Event-Type", "X-Webhook-Event"} {
		if t := h.Get(k); t != "" {
			return t
		}
	}
	if fromSlack(h) {
		switch {
		case f.Type == "event_callback" && f.EventType != "":
			return f.EventType
		case f.Type != "":
			return f.Type
		}
		return f.Command
	}
	return f.Type
}

// IdempotencyKey returns the provider's delivery id: an explicit
// Idempotency-Key, the Standard Webhooks webhook-id (or Svix's svix-id),
// GitHub's X-GitHub-Delivery, Shopify's X-Shopify-Webhook-Id, Stripe's
// event id (the body's "id" when a Stripe-Signature header is present), or
// Slack's Events API event_id (which Slack keeps when it retries).
func IdempotencyKey(h http.Header, f Fields) string {
	for _, k := range []string{"Idempotency-Key", "Webhook-Id", "Svix-Id", "X-GitHub-Delivery", "X-Shopify-Webhook-Id"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			return v
		}
	}
	if h.Get("Stripe-Signature") != "" && f.ID != "" {
		return f.ID
	}
	if fromSlack(h) && f.EventID != "" {
		return f.EventID
	}
	return ""
}
