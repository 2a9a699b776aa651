package limit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/limit"
	"github.com/hookd/hookd/internal/webhook"
)

// catalog is a small fake of the live catalog.
type catalog struct {
	mu      sync.Mutex
	sources map[string]webhook.Source
}

func (c *catalog) Source(name string) (webhook.Source, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sources[name]
	return s, ok
}

func (c *catalog) put(s webhook.Source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sources[s.Name] = s
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	url     string
	cat     *catalog
	clock   *clock
	guard   *limit.Guard
	served  atomic.Int64 // requests that reached the wrapped handler
	readErr chan error   // the wrapped handler's body read error, if any
	hold    chan struct{}
	entered chan struct{} // a held request has read its body
}

// setup serves a Guard in front of a handler that reads the body and
// answers 202, on a real loopback server. When hold is set, the handler
// waits for a value on f.hold before answering.
func setup(t *testing.T, opts limit.Options, hold bool, sources ...webhook.Source) *fixture {
	t.Helper()
	f := &fixture{
		cat:     &catalog{sources: map[string]webhook.Source{}},
		clock:   &clock{now: time.Unix(1_700_000_000, 0)},
		readErr: make(chan error, 16),
		hold:    make(chan struct{}),
		entered: make(chan struct{}, 16),
	}
	for _, s := range sources {
		f.cat.put(s)
	}
	opts.Catalog, opts.Now = f.cat, f.clock.Now
	f.guard = limit.New(opts)
	mux := http.NewServeMux()
	mux.Handle("POST /webhook/{source}", f.guard.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.served.Add(1)
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			f.readErr <- err
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, `{"error":"too large","code":"body_too_large"}`)
			return
		}
		if hold {
			f.entered <- struct{}{}
			<-f.hold
		}
		w.WriteHeader(http.StatusAccepted)
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

type answer struct {
	status     int
	retryAfter string
	code       string
}

func (f *fixture) post(t *testing.T, source string, body io.Reader) answer {
	t.Helper()
	resp, err := http.Post(f.url+"/webhook/"+source, "application/json", body)
	if err != nil {
		t.Fatalf("POST %s: %v", source, err)
	}
	defer resp.Body.Close()
	var e struct{ Code string }
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("POST %s: %d with a body that is not JSON: %q", source, resp.StatusCode, raw)
		}
	}
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), e.Code}
}

func TestGuardRateLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, limit.Options{}, false,
		webhook.Source{Name: "github", RateLimit: 0.25, RateBurst: 2},
		webhook.Source{Name: "stripe", RateLimit: 0.25, RateBurst: 2},
		webhook.Source{Name: "open"})
	for i := range 2 {
		if a := f.post(t, "github", strings.NewReader("{}")); a.status != http.StatusAccepted {
			t.Fatalf("request %d of the burst: %+v; want 202", i+1, a)
		}
	}
	a := f.post(t, "github", strings.NewReader("{}"))
	// One token every 4 s.
	if a.status != http.StatusTooManyRequests || a.retryAfter != "4" || a.code != limit.CodeRateLimited {
		t.Fatalf("past the burst: %+v; want 429, Retry-After 4, code rate_limited", a)
	}
	if n := f.served.Load(); n != 2 {
		t.Errorf("%d requests reached the handler; want the 2 admitted", n)
	}
	if a := f.post(t, "stripe", strings.NewReader("{}")); a.status != http.StatusAccepted {
		t.Errorf("another source: %+v; want 202", a)
	}
	for range 20 {
		if a := f.post(t, "open", strings.NewReader("{}")); a.status != http.StatusAccepted {
			t.Fatalf("a source without a limit: %+v; want 202", a)
		}
	}
	if a := f.post(t, "nosuch", strings.NewReader("{}")); a.status != http.StatusAccepted {
		t.Errorf("an unknown source is passed on to the handler (which answers 404): got %+v", a)
	}
	f.clock.advance(3500 * time.Millisecond)
	if a := f.post(t, "github", strings.NewReader("{}")); a.status != http.StatusTooManyRequests || a.retryAfter != "1" {
		t.Errorf("0.5 s before the next token: %+v; want 429 with Retry-After rounded up to 1", a)
	}
	f.clock.advance(500 * time.Millisecond)
	if a := f.post(t, "github", strings.NewReader("{}")); a.status != http.StatusAccepted {
		t.Errorf("once the token is free: %+v; want 202", a)
	}

	// A change of the limit applies to the next request.
	f.cat.put(webhook.Source{Name: "github", RateLimit: 1000, RateBurst: 10})
	for i := range 10 {
		if a := f.post(t, "github", strings.NewReader("{}")); a.status != http.StatusAccepted {
			t.Fatalf("request %d after raising the limit: %+v; want 202", i+1, a)
		}
	}
	f.cat.put(webhook.Source{Name: "github", RateLimit: 0.001, RateBurst: 1})
	f.post(t, "github", strings.NewReader("{}"))
	if a := f.post(t, "github", strings.NewReader("{}")); a.status != http.StatusTooManyRequests || a.retryAfter != "1000" {
		t.Errorf("after lowering the limit to one per 1000 s: %+v; want 429, Retry-After 1000", a)
	}
}

func TestGuardBodyCap(t *testing.T) {
	t.Parallel()
	const max = 1000
	f := setup(t, limit.Options{MaxBodyBytes: max}, false, webhook.Source{Name: "s", RateLimit: 1, RateBurst: 1})
	// Declared too large: refused before the handler, spending no token.
	a := f.post(t, "s", strings.NewReader(strings.Repeat("x", max+1)))
	if a.status != http.StatusRequestEntityTooLarge || a.code != limit.CodeBodyTooBig {
		t.Fatalf("Content-Length over the cap: %+v; want 413 body_too_large", a)
	}
	if n := f.served.Load(); n != 0 {
		t.Fatalf("the handler was called %d times for a body declared too large", n)
	}
	// Chunked (no length): the handler's read stops at the cap.
	a = f.post(t, "s", io.MultiReader(strings.NewReader(strings.Repeat("x", max)), strings.NewReader("y")))
	if a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body over the cap: %+v; want 413", a)
	}
	var mbe *http.MaxBytesError
	if err := <-f.readErr; !errors.As(err, &mbe) || mbe.Limit != max {
		t.Errorf("handler's read error = %v; want *http.MaxBytesError with limit %d", err, max)
	}
	f.clock.advance(time.Second)
	if a := f.post(t, "s", strings.NewReader(strings.Repeat("x", max))); a.status != http.StatusAccepted {
		t.Errorf("a body of exactly the cap: %+v; want 202", a)
	}
}

func TestGuardConcurrencyCap(t *testing.T) {
	t.Parallel()
	f := setup(t, limit.Options{MaxConcurrent: 2}, true,
		webhook.Source{Name: "s"}, webhook.Source{Name: "limited", RateLimit: 0.001, RateBurst: 1})
	held := make(chan answer, 2)
	for range 2 {
		go func() {
			resp, err := http.Post(f.url+"/webhook/s", "text/plain", strings.NewReader("x"))
			if err != nil {
				held <- answer{}
				return
			}
			resp.Body.Close()
			held <- answer{status: resp.StatusCode}
		}()
	}
	<-f.entered
	<-f.entered
	if n := f.guard.InFlight(); n != 2 {
		t.Fatalf("InFlight = %d with two requests held; want 2", n)
	}
	start := time.Now()
	a := f.post(t, "s", strings.NewReader("x"))
	if took := time.Since(start); took > time.Second {
		t.Errorf("the refusal took %v; want it at once", took)
	}
	if a.status != http.StatusServiceUnavailable || a.retryAfter != "1" || a.code != limit.CodeOverloaded {
		t.Fatalf("third request: %+v; want 503, Retry-After 1, code overloaded", a)
	}
	// A refusal for the cap does not spend the source's token.
	if a := f.post(t, "limited", strings.NewReader("x")); a.status != http.StatusServiceUnavailable {
		t.Fatalf("rate-limited source while full: %+v; want 503", a)
	}
	close(f.hold)
	for range 2 {
		if a := <-held; a.status != http.StatusAccepted {
			t.Errorf("held request: %+v; want 202", a)
		}
	}
	if n := f.guard.InFlight(); n != 0 {
		t.Errorf("InFlight = %d after the held requests finished; want 0", n)
	}
	if a := f.post(t, "limited", strings.NewReader("x")); a.status != http.StatusAccepted {
		t.Errorf("rate-limited source once a slot is free: %+v; want 202 (its token was given back)", a)
	}
}

// TestGuardReportsRefusals checks that every refusal reaches the Refused
// hook with its status, and that a name that is not a source is reported
// as "" so that metrics labels stay bounded.
func TestGuardReportsRefusals(t *testing.T) {
	t.Parallel()
	type refusal struct {
		source string
		status int
	}
	var mu sync.Mutex
	var got []refusal
	opts := limit.Options{MaxBodyBytes: 10, MaxConcurrent: 1, Refused: func(source string, status int) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, refusal{source, status})
	}}
	f := setup(t, opts, true, webhook.Source{Name: "s", RateLimit: 1, RateBurst: 1}, webhook.Source{Name: "free"})
	f.post(t, "s", strings.NewReader(strings.Repeat("x", 11)))        // 413
	f.post(t, "invented", strings.NewReader(strings.Repeat("x", 11))) // 413, not a source
	done := make(chan answer)
	go func() { done <- f.post(t, "s", strings.NewReader("{}")) }() // takes the token and the one slot
	<-f.entered
	f.post(t, "s", strings.NewReader("{}"))    // 429: no token left
	f.post(t, "free", strings.NewReader("{}")) // 503: the slot is taken
	f.hold <- struct{}{}
	if a := <-done; a.status != http.StatusAccepted {
		t.Fatalf("held request: %+v", a)
	}
	want := []refusal{{"s", 413}, {"", 413}, {"s", 429}, {"free", 503}}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("refusals = %v, want %v", got, want)
	}
}
