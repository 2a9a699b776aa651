package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

func TestEventType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header map[string]string
		fields Fields
		want   string
	}{
		{"nothing", nil, Fields{}, ""},
		{"GitHub with action", map[string]string{"X-GitHub-Event": "issues"}, Fields{Action: "opened"}, "issues.opened"},
		{"GitHub without action", map[string]string{"X-GitHub-Event": "push"}, Fields{}, "push"},
		{"GitHub header wins over body type", map[string]string{"X-GitHub-Event": "ping"}, Fields{Type: "other"}, "ping"},
		{"GitHub header wins over X-Event-Type", map[string]string{"X-GitHub-Event": "push", "X-Event-Type": "x"}, Fields{}, "push"},
		{"GitHub header, any case", map[string]string{"x-github-event": "issues"}, Fields{Action: "closed"}, "issues.closed"},
		{"action alone is not a type", nil, Fields{Action: "opened"}, ""},
		{"Shopify topic", map[string]string{"X-Shopify-Topic": "orders/create"}, Fields{}, "orders/create"},
		{"Shopify topic wins over body type", map[string]string{"X-Shopify-Topic": "orders/create"}, Fields{Type: "x"}, "orders/create"},
		{"Shopify topic wins over X-Event-Type", map[string]string{"X-Shopify-Topic": "orders/create", "X-Event-Type": "x"}, Fields{}, "orders/create"},
		{"X-Event-Type", map[string]string{"X-Event-Type": "user.created"}, Fields{}, "user.created"},
		{"X-Event-Type wins over body type", map[string]string{"X-Event-Type": "user.created"}, Fields{Type: "x"}, "user.created"},
		{"X-Webhook-Event", map[string]string{"X-Webhook-Event": "invoice.paid"}, Fields{}, "invoice.paid"},
		{"Stripe body type", map[string]string{"Stripe-Signature": "t=1,v1=abc"}, Fields{ID: "evt_1", Type: "charge.succeeded"}, "charge.succeeded"},
		{"Standard Webhooks body type", map[string]string{"Webhook-Id": "msg_1"}, Fields{Type: "invoice.paid"}, "invoice.paid"},
		{"Shopify topic with a Shopify HMAC", map[string]string{"X-Shopify-Topic": "products/update", "X-Shopify-Hmac-Sha256": "x"}, Fields{}, "products/update"},
		{"Slack Events API: the inner event type", map[string]string{"X-Slack-Signature": "v0=x"}, Fields{Type: "event_callback", EventType: "app_mention"}, "app_mention"},
		{"Slack Events API without inner type", map[string]string{"X-Slack-Signature": "v0=x"}, Fields{Type: "event_callback"}, "event_callback"},
		{"Slack url_verification", map[string]string{"X-Slack-Request-Timestamp": "1"}, Fields{Type: "url_verification"}, "url_verification"},
		{"Slack interactivity payload", map[string]string{"X-Slack-Signature": "v0=x"}, Fields{Type: "block_actions"}, "block_actions"},
		{"Slack slash command", map[string]string{"X-Slack-Signature": "v0=x"}, Fields{Command: "/deploy"}, "/deploy"},
		{"inner event type without Slack headers", nil, Fields{Type: "event_callback", EventType: "app_mention"}, "event_callback"},
		{"X-Event-Type wins over Slack", map[string]string{"X-Slack-Signature": "v0=x", "X-Event-Type": "x"}, Fields{Type: "event_callback", EventType: "app_mention"}, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := headerOf(tt.header)
			if got := EventType(h, tt.fields); got != tt.want {
				t.Errorf("EventType(%v, %+v) = %q, want %q", h, tt.fields, got, tt.want)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	all := map[string]string{
		"Idempotency-Key":      "idem",
		"Webhook-Id":           "msg",
		"X-GitHub-Delivery":    "gh",
		"X-Shopify-Webhook-Id": "shop",
		"Stripe-Signature":     "t=1,v1=abc",
	}
	without := func(keys ...string) map[string]string {
		m := map[string]string{}
		for k, v := range all {
			if !slices.Contains(keys, k) {
				m[k] = v
			}
		}
		return m
	}
	stripeBody := Fields{ID: "evt_stripe"}
	tests := []struct {
		name   string
		header map[string]string
		fields Fields
		want   string
	}{
		{"nothing", nil, Fields{}, ""},
		{"Idempotency-Key wins over everything", all, stripeBody, "idem"},
		{"then webhook-id", without("Idempotency-Key"), stripeBody, "msg"},
		{"then X-GitHub-Delivery", without("Idempotency-Key", "Webhook-Id"), stripeBody, "gh"},
		{"then X-Shopify-Webhook-Id", without("Idempotency-Key", "Webhook-Id", "X-GitHub-Delivery"), stripeBody, "shop"},
		{"then Stripe's body id", map[string]string{"Stripe-Signature": "t=1,v1=abc"}, stripeBody, "evt_stripe"},
		{"Stripe header without body id", map[string]string{"Stripe-Signature": "t=1,v1=abc"}, Fields{}, ""},
		{"body id without Stripe-Signature is not a key", nil, stripeBody, ""},
		{"body id with another provider's header", map[string]string{"X-GitHub-Event": "push"}, stripeBody, ""},
		{"lower-case header", map[string]string{"idempotency-key": "idem"}, Fields{}, "idem"},
		{"whitespace is trimmed", map[string]string{"Idempotency-Key": "  idem \t"}, Fields{}, "idem"},
		{"blank Idempotency-Key falls through", map[string]string{"Idempotency-Key": "   ", "X-GitHub-Delivery": "gh"}, Fields{}, "gh"},
		{"svix-id", map[string]string{"Svix-Id": "msg_svix", "X-GitHub-Delivery": "gh"}, Fields{}, "msg_svix"},
		{"webhook-id wins over svix-id", map[string]string{"Webhook-Id": "msg", "Svix-Id": "msg_svix"}, Fields{}, "msg"},
		{"Slack event_id", map[string]string{"X-Slack-Signature": "v0=x"}, Fields{EventID: "Ev123"}, "Ev123"},
		{"event_id without Slack headers is not a key", nil, Fields{EventID: "Ev123"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := headerOf(tt.header)
			if got := IdempotencyKey(h, tt.fields); got != tt.want {
				t.Errorf("IdempotencyKey(%v, %+v) = %q, want %q", h, tt.fields, got, tt.want)
			}
		})
	}
}

func TestBodyFields(t *testing.T) {
	t.Parallel()
	const obj = `{"id":"evt_1","type":"charge.succeeded","action":"opened"}`
	full := Fields{ID: "evt_1", Type: "charge.succeeded", Action: "opened"}
	tests := []struct {
		name        string
		contentType string
		body        string
		want        Fields
	}{
		{"application/json", "application/json", obj, full},
		{"with charset", "application/json; charset=utf-8", obj, full},
		{"upper case", "Application/JSON", obj, full},
		{"+json suffix", "application/cloudevents+json", obj, full},
		{"vnd +json", "application/vnd.github+json", obj, full},
		{"partial", "application/json", `{"type":"push"}`, Fields{Type: "push"}},
		{"extra fields ignored", "application/json", `{"type":"push","data":{"id":"inner"}}`, Fields{Type: "push"}},
		{"nested fields are not top-level", "application/json", `{"data":{"id":"x","type":"y"}}`, Fields{}},
		{"whitespace around", "application/json", " \n" + obj + "\n ", full},

		{"no content type", "", obj, Fields{}},
		{"text/plain", "text/plain", obj, Fields{}},
		{"form", "application/x-www-form-urlencoded", "id=evt_1&type=x", Fields{}},
		{"xml", "application/xml", "<id>1</id>", Fields{}},
		{"json-ish but not json", "application/jsonp", obj, Fields{}},
		{"bad parameter: still JSON", "application/json; =", obj, full},
		{"malformed media type", "application/", obj, Fields{}},

		{"invalid JSON", "application/json", `{"id":"evt_1",`, Fields{}},
		{"trailing garbage", "application/json", obj + "x", Fields{}},
		{"empty body", "application/json", "", Fields{}},
		{"JSON array", "application/json", `[` + obj + `]`, Fields{}},
		{"JSON string", "application/json", `"evt_1"`, Fields{}},
		{"JSON null", "application/json", `null`, Fields{}},
		{"number id", "application/json", `{"id":123,"type":"t"}`, Fields{Type: "t"}},
		{"object type", "application/json", `{"id":"i","type":{"name":"t"}}`, Fields{ID: "i"}},
		{"array action", "application/json", `{"action":["opened"],"type":"t"}`, Fields{Type: "t"}},
		{"bool and null fields", "application/json", `{"id":true,"type":null,"action":false}`, Fields{}},
		{"escaped strings", "application/json", `{"type":"caf\u00e9.cr\u00e9\u00e9"}`, Fields{Type: "café.créé"}},
		{"duplicate key: last wins", "application/json", `{"type":"a","type":"b"}`, Fields{Type: "b"}},

		{"Slack event_callback", "application/json", `{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","text":"hi"}}`, Fields{Type: "event_callback", EventID: "Ev1", EventType: "app_mention"}},
		{"event not an object", "application/json", `{"type":"t","event":"x"}`, Fields{Type: "t"}},
		{"event type not a string", "application/json", `{"event":{"type":1}}`, Fields{}},
		{"form with a JSON payload (GitHub, Slack)", "application/x-www-form-urlencoded", "payload=" + url.QueryEscape(`{"type":"block_actions","action":"opened"}`), Fields{Type: "block_actions", Action: "opened"}},
		{"form with a slash command", "application/x-www-form-urlencoded", "token=x&command=%2Fdeploy&text=prod", Fields{Command: "/deploy"}},
		{"form with a payload that is not JSON", "application/x-www-form-urlencoded", "payload=nope", Fields{}},
		{"malformed form", "application/x-www-form-urlencoded", "payload=%zz", Fields{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := bodyFields(tt.contentType, []byte(tt.body)); got != tt.want {
				t.Errorf("bodyFields(%q, %q) = %+v, want %+v", tt.contentType, tt.body, got, tt.want)
			}
		})
	}
}

func FuzzBodyFields(f *testing.F) {
	f.Add("application/json", []byte(`{"id":"evt_1","type":"charge.succeeded","action":"opened"}`))
	f.Add("application/json; charset=utf-8", []byte(`{"id":1}`))
	f.Add("application/cloudevents+json", []byte(`[1,2]`))
	f.Add("text/plain", []byte("hello"))
	f.Add("", []byte(""))
	f.Add("application/json", []byte(`{"type":"\ud800"}`))
	f.Add("application/json; =", []byte(`{`))
	f.Add("application/json", []byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}`))
	f.Add("application/x-www-form-urlencoded", []byte(`payload=%7B%22type%22%3A%22block_actions%22%7D&command=%2Fx`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		got := bodyFields(contentType, body)
		if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/x-www-form-urlencoded" && !json.Valid(body) && got != (Fields{}) {
			t.Fatalf("bodyFields(%q, %q) = %+v from invalid JSON", contentType, body, got)
		}
		// Whatever the body, naming the event must not panic either.
		h := http.Header{}
		h.Set("Content-Type", contentType)
		_ = EventType(h, got)
		_ = IdempotencyKey(h, got)
	})
}

func FuzzEventType(f *testing.F) {
	f.Add("issues", "", "", "", "opened", "", "")
	f.Add("", "orders/create", "", "", "", "", "")
	f.Add("", "", "user.created", "idem", "", "evt_1", "t=1")
	f.Add("", "", "", "", "", "evt_1", "")
	f.Fuzz(func(t *testing.T, github, shopify, eventType, idem, action, id, stripe string) {
		h := http.Header{}
		h["X-Github-Event"] = []string{github}
		h["X-Shopify-Topic"] = []string{shopify}
		h["X-Event-Type"] = []string{eventType}
		h["Idempotency-Key"] = []string{idem}
		h["Stripe-Signature"] = []string{stripe}
		fields := Fields{ID: id, Type: "t", Action: action}
		got := EventType(h, fields)
		if github != "" && !strings.HasPrefix(got, github) {
			t.Fatalf("EventType with X-GitHub-Event %q = %q", github, got)
		}
		key := IdempotencyKey(h, fields)
		if strings.TrimSpace(idem) != "" && key != strings.TrimSpace(idem) {
			t.Fatalf("IdempotencyKey with Idempotency-Key %q = %q", idem, key)
		}
	})
}

// Handler tests: a real HTTP server in front of the Handler, with a
// hand-written store, queue and catalog.

// fakeStore stores events in memory and dedups by (source, idempotency key),
// as the Store contract says. A test can make it fail instead.
type fakeStore struct {
	mu     sync.Mutex
	params []store.EventInsertParams
	firsts map[[2]string]string
	err    error
	// refuse, when set, fails any batch holding an event it matches, as a
	// database refuses a whole transaction for one bad row.
	refuse func(store.EventInsertParams) bool
}

func (s *fakeStore) EventInsertMany(_ context.Context, params []store.EventInsertParams) ([]store.EventInsertResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	for _, p := range params {
		if s.refuse != nil && s.refuse(p) {
			return nil, errors.New("row refused")
		}
	}
	if s.firsts == nil {
		s.firsts = map[[2]string]string{}
	}
	out := make([]store.EventInsertResult, len(params))
	for i, p := range params {
		key := [2]string{p.Event.Source, p.Event.IdempotencyKey}
		if first, ok := s.firsts[key]; ok && p.Event.IdempotencyKey != "" {
			out[i] = store.EventInsertResult{ID: first, Status: webhook.StatusPending, Duplicate: true}
			continue
		}
		s.firsts[key] = p.Event.ID
		s.params = append(s.params, p)
		out[i] = store.EventInsertResult{ID: p.Event.ID, Status: p.Event.Status}
	}
	return out, nil
}

// count returns how many events are stored.
func (s *fakeStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.params)
}

// has reports whether an event with this id is stored.
func (s *fakeStore) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, first := range s.firsts {
		if first == id {
			return true
		}
	}
	return false
}

func (s *fakeStore) stored() []store.EventInsertParams {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.params)
}

type fakeQueue struct {
	mu    sync.Mutex
	items []queue.Item
}

func (q *fakeQueue) Notify(_ context.Context, items []queue.Item) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, items...)
	return nil
}

func (q *fakeQueue) notified() []queue.Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.items)
}

type fakeCatalog struct {
	sources      map[string]webhook.Source
	destinations []webhook.Destination
}

func (c fakeCatalog) Source(name string) (webhook.Source, bool) {
	s, ok := c.sources[name]
	return s, ok
}

func (c fakeCatalog) Destinations() []webhook.Destination { return c.destinations }

// Filter returns nil: the handler then compiles the destination's filter
// itself, as it does when the catalog changed between its reads.
func (c fakeCatalog) Filter(string) *route.Filter { return nil }

// testNow is the handler's clock in handler tests.
var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

const (
	githubSecret = "gh-secret"
	smallLimit   = 64
)

var testCatalog = fakeCatalog{
	sources: map[string]webhook.Source{
		"github": {Name: "github", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: "github", Secret: githubSecret}},
		"open":   {Name: "open", MaxBodyBytes: 1 << 20},
		"small":  {Name: "small", MaxBodyBytes: smallLimit},
		"lonely": {Name: "lonely", MaxBodyBytes: 1 << 20},
	},
	destinations: []webhook.Destination{
		{Name: "all-github", Sources: []string{"github"}},
		{Name: "github-prs", Sources: []string{"github"}, EventTypes: []string{"pull_request.*"}},
		{Name: "github-issues", Sources: []string{"github"}, EventTypes: []string{"issues.*"}},
		{Name: "open-only", Sources: []string{"open", "small"}},
		{Name: "everything-opened", Sources: []string{"*"}, EventTypes: []string{"issues.opened", "user.created"}},
	},
}

type fixture struct {
	url   string
	store *fakeStore
	queue *fakeQueue
	logs  *logBuffer
}

// logBuffer collects log output; the handler writes it from server
// goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func setup(t *testing.T, st *fakeStore) fixture {
	t.Helper()
	return setupCatalog(t, st, testCatalog)
}

// setupCatalog is setup with another catalog.
func setupCatalog(t *testing.T, st *fakeStore, catalog Catalog) fixture {
	t.Helper()
	if st == nil {
		st = &fakeStore{}
	}
	q := &fakeQueue{}
	logs := &logBuffer{}
	h := New(Options{
		Store: st, Queue: q, Catalog: catalog,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Now:    func() time.Time { return testNow },
	})
	if err := h.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhook/{source}", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		h.Stop()
	})
	return fixture{url: srv.URL, store: st, queue: q, logs: logs}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// send POSTs body to /webhook/{source} and decodes the JSON answer. Wrap
// body in chunked to send it without Content-Length.
func send(t *testing.T, f fixture, source string, body io.Reader, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+"/webhook/"+source, body)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json; body %q", ct, raw)
	}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("response %q is not a JSON object: %v", raw, err)
	}
	return r
}

// chunked hides a reader's length from net/http.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func githubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if r.body["code"] != code {
		t.Errorf("code = %v, want %q; body %s", r.body["code"], code, r.raw)
	}
	if msg, ok := r.body["error"].(string); !ok || msg == "" {
		t.Errorf("error message = %v, want a non-empty string; body %s", r.body["error"], r.raw)
	}
}

func TestHandlerUnknownSource(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	r := send(t, f, "nope", strings.NewReader(`{}`), map[string]string{"Content-Type": "application/json"})
	wantError(t, r, http.StatusNotFound, "unknown_source")
	if n := len(f.store.stored()); n != 0 {
		t.Errorf("stored %d events, want 0", n)
	}
}

func TestHandlerBodyLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		size   int
		hidden bool // chunked: no Content-Length
		status int
	}{
		{"at the limit", smallLimit, false, http.StatusAccepted},
		{"at the limit, chunked", smallLimit, true, http.StatusAccepted},
		{"over the limit with Content-Length", smallLimit + 1, false, http.StatusRequestEntityTooLarge},
		{"over the limit, chunked", smallLimit + 1, true, http.StatusRequestEntityTooLarge},
		{"far over the limit, chunked", 100 * smallLimit, true, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, nil)
			var body io.Reader = bytes.NewReader(bytes.Repeat([]byte("x"), tt.size))
			if tt.hidden {
				body = chunked{body}
			}
			r := send(t, f, "small", body, map[string]string{"Content-Type": "text/plain"})
			if tt.status == http.StatusAccepted {
				if r.status != tt.status {
					t.Fatalf("status = %d, want %d; body %s", r.status, tt.status, r.raw)
				}
				stored := f.store.stored()
				if len(stored) != 1 || len(stored[0].Event.Body) != tt.size {
					t.Errorf("stored %d events, want 1 with the whole %d-byte body", len(stored), tt.size)
				}
				return
			}
			wantError(t, r, tt.status, "body_too_large")
			if n := len(f.store.stored()); n != 0 {
				t.Errorf("stored %d events, want 0", n)
			}
		})
	}
}

func TestHandlerGitHubSignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"action":"opened","issue":{"number":1}}`)
	tests := []struct {
		name      string
		signature string
		status    int
	}{
		{"valid", githubSignature(githubSecret, body), http.StatusAccepted},
		{"wrong secret", githubSignature("other", body), http.StatusUnauthorized},
		{"missing", "", http.StatusUnauthorized},
		{"not hex", "sha256=zz", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, nil)
			h := map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "issues"}
			if tt.signature != "" {
				h["X-Hub-Signature-256"] = tt.signature
			}
			r := send(t, f, "github", bytes.NewReader(body), h)
			if tt.status == http.StatusAccepted {
				if r.status != http.StatusAccepted {
					t.Fatalf("status = %d, want 202; body %s", r.status, r.raw)
				}
				return
			}
			wantError(t, r, tt.status, "invalid_signature")
			if n := len(f.store.stored()); n != 0 {
				t.Errorf("stored %d events, want 0", n)
			}
			if want := githubSignature(githubSecret, body); strings.Contains(r.raw, strings.TrimPrefix(want, "sha256=")) {
				t.Error("response shows the expected signature")
			}
		})
	}
}

func TestHandlerStoresEvent(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	body := []byte(`{"action":"opened","issue":{"number":1}}`)
	r := send(t, f, "github", bytes.NewReader(body), map[string]string{
		"Content-Type":        "application/json",
		"X-GitHub-Event":      "issues",
		"X-GitHub-Delivery":   "d-1",
		"X-Hub-Signature-256": githubSignature(githubSecret, body),
		"Authorization":       "Bearer s3cret",
		"Proxy-Authorization": "Basic cHJveHk=",
		"Cookie":              "session=abc",
		"X-Custom":            "kept",
	})
	if r.status != http.StatusAccepted {
		t.Fatalf("status = %d, want 202; body %s", r.status, r.raw)
	}
	stored := f.store.stored()
	if len(stored) != 1 {
		t.Fatalf("stored %d events, want 1", len(stored))
	}
	ev := stored[0].Event
	if r.body["id"] != ev.ID || r.body["status"] != string(webhook.StatusPending) {
		t.Errorf("response %s, want id %q and status pending", r.raw, ev.ID)
	}
	if _, ok := r.body["duplicate"]; ok {
		t.Errorf("response %s has duplicate for a first delivery", r.raw)
	}
	if !bytes.Equal(ev.Body, body) {
		t.Errorf("stored body %q, want the raw body %q", ev.Body, body)
	}
	if ev.Source != "github" || ev.Type != "issues.opened" || ev.IdempotencyKey != "d-1" || ev.ContentType != "application/json" {
		t.Errorf("stored event %+v, want source github, type issues.opened, key d-1, JSON", ev)
	}
	if !ev.ReceivedAt.Equal(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("ReceivedAt = %v, want the injected clock's time", ev.ReceivedAt)
	}
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
		if v, ok := ev.Headers[k]; ok {
			t.Errorf("stored header %s = %q, want it dropped", k, v)
		}
	}
	if ev.Headers["X-Custom"] != "kept" || ev.Headers["X-Github-Delivery"] != "d-1" {
		t.Errorf("stored headers %v, want X-Custom and X-Github-Delivery kept", ev.Headers)
	}
}

func TestHandlerDeliveriesFollowSubscriptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		source string
		header map[string]string
		body   string
		want   []string // destination names, in catalog order
	}{
		{
			name: "GitHub issue: all, issues and the exact filter", source: "github",
			header: map[string]string{"X-GitHub-Event": "issues"}, body: `{"action":"opened"}`,
			want: []string{"all-github", "github-issues", "everything-opened"},
		},
		{
			name: "GitHub issue closed: exact filter misses", source: "github",
			header: map[string]string{"X-GitHub-Event": "issues"}, body: `{"action":"closed"}`,
			want: []string{"all-github", "github-issues"},
		},
		{
			name: "GitHub pull request", source: "github",
			header: map[string]string{"X-GitHub-Event": "pull_request"}, body: `{"action":"synchronize"}`,
			want: []string{"all-github", "github-prs"},
		},
		{
			name: "open source, typed by header", source: "open",
			header: map[string]string{"X-Event-Type": "user.created"}, body: `{}`,
			want: []string{"open-only", "everything-opened"},
		},
		{
			name: "open source, untyped", source: "open",
			body: `{}`, want: []string{"open-only"},
		},
		{
			name: "no subscriber", source: "lonely",
			header: map[string]string{"X-Event-Type": "user.deleted"}, body: `{}`,
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, nil)
			h := map[string]string{"Content-Type": "application/json"}
			for k, v := range tt.header {
				h[k] = v
			}
			if tt.source == "github" {
				h["X-Hub-Signature-256"] = githubSignature(githubSecret, []byte(tt.body))
			}
			r := send(t, f, tt.source, strings.NewReader(tt.body), h)
			if r.status != http.StatusAccepted {
				t.Fatalf("status = %d, want 202; body %s", r.status, r.raw)
			}
			stored := f.store.stored()
			if len(stored) != 1 {
				t.Fatalf("stored %d events, want 1", len(stored))
			}
			ev := stored[0].Event
			var got []string
			ids := map[string]bool{}
			for _, d := range stored[0].Deliveries {
				got = append(got, d.Destination)
				if d.EventID != ev.ID || d.Status != webhook.StatusPending || !d.NextAttemptAt.Equal(ev.ReceivedAt) || d.ID == "" || ids[d.ID] {
					t.Errorf("delivery %+v: want a fresh id, event %s, pending, due at receipt", d, ev.ID)
				}
				ids[d.ID] = true
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("deliveries to %q, want %q", got, tt.want)
			}

			// The queue hears about exactly these deliveries, after the commit.
			var notified []string
			for _, it := range f.queue.notified() {
				notified = append(notified, it.Destination)
				if !ids[it.DeliveryID] {
					t.Errorf("queue notified of unknown delivery %s", it.DeliveryID)
				}
			}
			if !slices.Equal(notified, tt.want) {
				t.Errorf("queue notified for %q, want %q", notified, tt.want)
			}

			wantStatus := webhook.StatusPending
			if len(tt.want) == 0 {
				wantStatus = webhook.StatusSuccess // nothing to deliver
			}
			if ev.Status != wantStatus || r.body["status"] != string(wantStatus) {
				t.Errorf("event status %q, response %s; want %q", ev.Status, r.raw, wantStatus)
			}
		})
	}
}

func TestHandlerDuplicate(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	h := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "order-42"}
	first := send(t, f, "open", strings.NewReader(`{"n":1}`), h)
	if first.status != http.StatusAccepted {
		t.Fatalf("first: status %d, want 202; body %s", first.status, first.raw)
	}
	second := send(t, f, "open", strings.NewReader(`{"n":2}`), h)
	if second.status != http.StatusAccepted {
		t.Fatalf("second: status %d, want 202; body %s", second.status, second.raw)
	}
	if second.body["id"] != first.body["id"] {
		t.Errorf("duplicate answered id %v, want the first event's %v", second.body["id"], first.body["id"])
	}
	if second.body["duplicate"] != true {
		t.Errorf("duplicate answered %s, want \"duplicate\": true", second.raw)
	}
	if n := len(f.store.stored()); n != 1 {
		t.Errorf("stored %d events, want 1", n)
	}
	if n := len(f.queue.notified()); n != 1 {
		t.Errorf("queue notified %d deliveries, want 1 (the duplicate adds none)", n)
	}
	// The same key for another source is another event.
	other := send(t, f, "small", strings.NewReader(`{}`), h)
	if other.status != http.StatusAccepted || other.body["id"] == first.body["id"] || other.body["duplicate"] != nil {
		t.Errorf("same key on another source: %d %s, want a new event", other.status, other.raw)
	}
}

func TestHandlerStoreError(t *testing.T) {
	t.Parallel()
	const detail = "sqlite: disk I/O error at /var/lib/hookd/secret-path.db"
	f := setup(t, &fakeStore{err: errors.New(detail)})
	r := send(t, f, "open", strings.NewReader(`{}`), map[string]string{"Content-Type": "application/json"})
	wantError(t, r, http.StatusInternalServerError, "internal")
	if strings.Contains(r.raw, "sqlite") || strings.Contains(r.raw, "secret-path") {
		t.Errorf("response %s leaks the internal error", r.raw)
	}
	if len(r.body) != 2 {
		t.Errorf("response %s, want only error and code", r.raw)
	}
	if n := len(f.queue.notified()); n != 0 {
		t.Errorf("queue notified %d deliveries of an event that was not stored", n)
	}
	if !strings.Contains(f.logs.String(), detail) {
		t.Errorf("log %q does not carry the cause", f.logs.String())
	}
}

func TestHandlerIdempotencyKeyTooLong(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	r := send(t, f, "open", strings.NewReader(`{}`), map[string]string{
		"Idempotency-Key": strings.Repeat("k", MaxIdempotencyKey+1),
	})
	wantError(t, r, http.StatusBadRequest, "invalid")
	if n := len(f.store.stored()); n != 0 {
		t.Errorf("stored %d events, want 0", n)
	}
}

func TestHandlerAfterStop(t *testing.T) {
	t.Parallel()
	st := &fakeStore{}
	h := New(Options{Store: st, Queue: &fakeQueue{}, Catalog: testCatalog})
	if err := h.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h.Stop()
	req := httptest.NewRequest(http.MethodPost, "/webhook/open", strings.NewReader(`{}`))
	req.SetPathValue("source", "open")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("after Stop: %d (Retry-After %q) %s, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if n := len(st.stored()); n != 0 {
		t.Errorf("stored %d events after Stop, want 0", n)
	}
}

// headerOf builds a canonicalised http.Header from a plain map.
func headerOf(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

// TestBatchFailureCostsOnlyTheBadEvent: when the store refuses a batch
// because of one event, the others in it are stored all the same.
func TestBatchFailureCostsOnlyTheBadEvent(t *testing.T) {
	t.Parallel()
	st := &fakeStore{refuse: func(p store.EventInsertParams) bool { return p.Event.Type == "bad" }}
	h := New(Options{Store: st, Queue: &fakeQueue{}, Catalog: testCatalog})
	params := []store.EventInsertParams{
		{Event: webhook.Event{ID: "evt_1", Source: "github", Type: "good"}},
		{Event: webhook.Event{ID: "evt_2", Source: "github", Type: "bad"}},
		{Event: webhook.Event{ID: "evt_3", Source: "github", Type: "good"}},
	}
	out, err := h.insert(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if out[0].err != nil || out[2].err != nil || out[1].err == nil {
		t.Fatalf("outcomes = %+v; want only the bad event to fail", out)
	}
	if got := len(st.stored()); got != 2 {
		t.Fatalf("stored %d events, want the 2 good ones", got)
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"issues.opened", 256, "issues.opened"},
		{"a\x00b\nc\x7f", 256, "abc"},
		{"bad\xffutf8", 256, "bad\uFFFDutf8"},
		{"héllo", 2, "h"}, // never cuts inside a character
		{"héllo", 3, "hé"},
	}
	for _, tt := range tests {
		if got := cleanText(tt.in, tt.max); got != tt.want {
			t.Errorf("cleanText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
