package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/webhook"
)

// errorBody is hookd's JSON error shape.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func decodeError(t *testing.T, raw []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(raw, &e); err != nil || e.Code == "" || e.Error == "" {
		t.Fatalf("error body %q is not {\"error\", \"code\"} JSON (%v)", raw, err)
	}
	return e
}

// postFull is tryPost that also returns the response headers.
func (ta *testApp) postFull(t *testing.T, path string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	resp, err := ta.client.Post(ta.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read: %v", path, err)
	}
	return resp.StatusCode, resp.Header, raw
}

// wantRateLimited checks a 429 with a whole-seconds Retry-After of at least
// 1 and code rate_limited.
func wantRateLimited(t *testing.T, what string, status int, h http.Header, raw []byte) {
	t.Helper()
	if status != http.StatusTooManyRequests {
		t.Fatalf("%s: %d %s; want 429", what, status, raw)
	}
	if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("%s: Retry-After %q; want whole seconds >= 1", what, h.Get("Retry-After"))
	}
	if e := decodeError(t, raw); e.Code != "rate_limited" {
		t.Errorf("%s: code %q; want rate_limited", what, e.Code)
	}
}

// ingestsInFlight reads ingests_in_flight from GET /debug/status.
func (ta *testApp) ingestsInFlight(t *testing.T) int {
	t.Helper()
	status, raw := ta.get(t, "/debug/status")
	if status != http.StatusOK {
		t.Fatalf("GET /debug/status: %d %s", status, raw)
	}
	var s struct {
		IngestsInFlight *int `json:"ingests_in_flight"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.IngestsInFlight == nil {
		t.Fatalf("/debug/status %s has no ingests_in_flight (%v)", raw, err)
	}
	return *s.IngestsInFlight
}

func (ta *testApp) waitIngestsInFlight(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := ta.ingestsInFlight(t)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingests_in_flight = %d after 10s; want %d", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// login returns a bearer token for the admin created from
// cfg.AdminPassword.
func (ta *testApp) login(t *testing.T) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": ta.cfg.AdminPassword})
	status, _, raw := ta.postFull(t, "/api/auth/login", body)
	var reply struct{ Token string }
	if status != http.StatusOK || json.Unmarshal(raw, &reply) != nil || reply.Token == "" {
		t.Fatalf("login: %d %s", status, raw)
	}
	return reply.Token
}

// call sends an authenticated JSON API request.
func (ta *testApp) call(t *testing.T, token, method, path string, body any) (int, []byte) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, ta.base+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := ta.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// TestIngestRateLimit: a source's burst is admitted, the next request gets
// 429 with Retry-After and nothing is stored for it; another source is
// unaffected.
func TestIngestRateLimit(t *testing.T) {
	t.Parallel()
	ta := setup(t, func(cfg *config.Config) {
		limited := testSource("limited")
		limited.RateLimit, limited.RateBurst = 0.01, 3 // one token every 100 s
		other := testSource("other")
		other.RateLimit, other.RateBurst = 0.01, 1
		cfg.Sources = []webhook.Source{limited, other, testSource("open")}
	})
	for i := range 3 {
		if status, _, raw := ta.postFull(t, "/webhook/limited", []byte(`{"n":1}`)); status != http.StatusAccepted {
			t.Fatalf("request %d of the burst: %d %s; want 202", i+1, status, raw)
		}
	}
	for i := range 5 {
		status, h, raw := ta.postFull(t, "/webhook/limited", []byte(`{"n":2}`))
		wantRateLimited(t, fmt.Sprintf("request %d past the burst", i+1), status, h, raw)
		if n, _ := strconv.Atoi(h.Get("Retry-After")); n > 100 {
			t.Errorf("Retry-After %d; want at most 100 (one token every 100 s)", n)
		}
	}
	if status, _, raw := ta.postFull(t, "/webhook/other", []byte(`{"n":3}`)); status != http.StatusAccepted {
		t.Errorf("another source: %d %s; want 202", status, raw)
	}
	for range 10 {
		if status, _, raw := ta.postFull(t, "/webhook/open", []byte(`{"n":4}`)); status != http.StatusAccepted {
			t.Fatalf("a source without a limit: %d %s; want 202", status, raw)
		}
	}
	// 3 + 1 + 10 stored; the 5 refused are not.
	ta.checkRows(t, 14, 0)
}

// TestIngestRateLimitChangedThroughAPI: a rate limit changed with PATCH
// /api/sources/{name} applies to the next request, without a restart.
func TestIngestRateLimitChangedThroughAPI(t *testing.T) {
	t.Parallel()
	ta := setup(t, func(cfg *config.Config) { cfg.AdminPassword = "traffic-control-pw" })
	token := ta.login(t)
	if status, raw := ta.call(t, token, "POST", "/api/sources", map[string]any{"name": "shop", "rate_limit": 0.01, "rate_burst": 2}); status != http.StatusCreated {
		t.Fatalf("create source: %d %s", status, raw)
	}
	for range 2 {
		if status, _, raw := ta.postFull(t, "/webhook/shop", []byte(`{}`)); status != http.StatusAccepted {
			t.Fatalf("within the burst: %d %s", status, raw)
		}
	}
	status, h, raw := ta.postFull(t, "/webhook/shop", []byte(`{}`))
	wantRateLimited(t, "past the burst", status, h, raw)

	if status, raw := ta.call(t, token, "PATCH", "/api/sources/shop", map[string]any{"rate_limit": 1000, "rate_burst": 20}); status != http.StatusOK {
		t.Fatalf("raise the limit: %d %s", status, raw)
	}
	for i := range 20 {
		if status, _, raw := ta.postFull(t, "/webhook/shop", []byte(`{}`)); status != http.StatusAccepted {
			t.Fatalf("request %d after raising the limit: %d %s; want 202", i+1, status, raw)
		}
	}
	if status, raw := ta.call(t, token, "PATCH", "/api/sources/shop", map[string]any{"rate_limit": 0.01, "rate_burst": 1}); status != http.StatusOK {
		t.Fatalf("lower the limit: %d %s", status, raw)
	}
	if status, _, raw := ta.postFull(t, "/webhook/shop", []byte(`{}`)); status != http.StatusAccepted {
		t.Fatalf("first request after lowering the limit: %d %s; want 202 (a new bucket starts full)", status, raw)
	}
	status, h, raw = ta.postFull(t, "/webhook/shop", []byte(`{}`))
	wantRateLimited(t, "after lowering the limit", status, h, raw)
	if n, _ := strconv.Atoi(h.Get("Retry-After")); n < 90 {
		t.Errorf("Retry-After %d after lowering the limit to one per 100 s; want about 100", n)
	}

	if status, raw := ta.call(t, token, "PATCH", "/api/sources/shop", map[string]any{"rate_limit": 0, "rate_burst": 0}); status != http.StatusOK {
		t.Fatalf("remove the limit: %d %s", status, raw)
	}
	for range 10 {
		if status, _, raw := ta.postFull(t, "/webhook/shop", []byte(`{}`)); status != http.StatusAccepted {
			t.Fatalf("after removing the limit: %d %s; want 202", status, raw)
		}
	}
	ta.checkRows(t, 2+20+1+10, 0)
}

// holdOpen sends the headers of a webhook declaring a body of n bytes and
// one byte of it, leaving the request in progress. finish sends the rest and
// returns the status.
func holdOpen(t *testing.T, addr, source string, n int) (finish func() int) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /webhook/%s HTTP/1.1\r\nHost: hookd\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\nx", source, n)
	return func() int {
		if _, err := conn.Write(bytes.Repeat([]byte("x"), n-1)); err != nil {
			t.Errorf("finish the held body: %v", err)
			return 0
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("read the held request's answer: %v", err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

// TestIngestConcurrencyCap: with the cap at 2 and two requests held open
// by slow bodies, a third gets 503 with Retry-After at once; when the held
// ones finish, they are stored and ingest admits again.
func TestIngestConcurrencyCap(t *testing.T) {
	t.Parallel()
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxConcurrentIngests = 2
		cfg.Sources = []webhook.Source{testSource("s")}
	})
	first := holdOpen(t, ta.Addr(), "s", 100)
	second := holdOpen(t, ta.Addr(), "s", 100)
	ta.waitIngestsInFlight(t, 2)

	start := time.Now()
	status, h, raw := ta.postFull(t, "/webhook/s", []byte(`{"n":3}`))
	took := time.Since(start)
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") != "1" {
		t.Fatalf("third request: %d, Retry-After %q, %s; want 503 with Retry-After 1", status, h.Get("Retry-After"), raw)
	}
	if e := decodeError(t, raw); e.Code != "overloaded" {
		t.Errorf("code %q; want overloaded", e.Code)
	}
	if took > time.Second {
		t.Errorf("the 503 took %v; want it at once", took)
	}
	// Operations endpoints are not ingests.
	if status, raw := ta.get(t, "/healthz"); status != http.StatusOK {
		t.Errorf("/healthz while full: %d %s", status, raw)
	}
	if s := first(); s != http.StatusAccepted {
		t.Errorf("first held request: %d; want 202", s)
	}
	if s := second(); s != http.StatusAccepted {
		t.Errorf("second held request: %d; want 202", s)
	}
	ta.waitIngestsInFlight(t, 0)
	if status, _, raw := ta.postFull(t, "/webhook/s", []byte(`{"n":4}`)); status != http.StatusAccepted {
		t.Errorf("after the held requests: %d %s; want 202", status, raw)
	}
	ta.checkRows(t, 3, 0)
}

// waitClosed reads conn until the server closes it and returns how long
// that took from start and what was read. It fails after limit.
func waitClosed(t *testing.T, conn net.Conn, start time.Time, limit time.Duration) (time.Duration, []byte) {
	t.Helper()
	conn.SetReadDeadline(start.Add(limit))
	got, err := io.ReadAll(conn)
	took := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v (read %q)", took, got)
	}
	return took, got
}

// trickle writes p one byte every interval until it is written, the
// connection fails or stop is closed.
func trickle(conn net.Conn, p []byte, interval time.Duration, stop <-chan struct{}) {
	for _, b := range p {
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
		if _, err := conn.Write([]byte{b}); err != nil {
			return
		}
	}
}

// TestSlowloris: a client sending its headers byte by byte is cut off at
// ReadHeaderTimeout, one trickling its body at ReadTimeout, each within a
// margin; normal webhooks are accepted all along, and the slow body gives
// its ingest slot back.
func TestSlowloris(t *testing.T) {
	t.Parallel()
	const headerTimeout, readTimeout, margin = 500 * time.Millisecond, 1500 * time.Millisecond, time.Second
	ta := setup(t, func(cfg *config.Config) {
		cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.WriteTimeout = headerTimeout, readTimeout, 3*time.Second
		cfg.Sources = []webhook.Source{testSource("s")}
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)

	// Normal webhooks all along.
	var normal, normalFailed atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			status, raw, err := ta.tryPost("/webhook/s", []byte(`{"ok":true}`), jsonHeader())
			normal.Add(1)
			if err != nil || status != http.StatusAccepted {
				normalFailed.Add(1)
				t.Errorf("normal webhook during the slow clients: %d %s %v", status, raw, err)
			}
		}
	}()

	headers := "POST /webhook/s HTTP/1.1\r\nHost: hookd\r\nContent-Type: application/json\r\nX-Pad: " + strings.Repeat("a", 1000) + "\r\n\r\n{}"
	slowHeaders, err := net.Dial("tcp", ta.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer slowHeaders.Close()
	slowBody, err := net.Dial("tcp", ta.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer slowBody.Close()
	start := time.Now()
	wg.Add(2)
	go func() { defer wg.Done(); trickle(slowHeaders, []byte(headers), 50*time.Millisecond, stop) }()
	go func() {
		defer wg.Done()
		fmt.Fprintf(slowBody, "POST /webhook/s HTTP/1.1\r\nHost: hookd\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
		trickle(slowBody, bytes.Repeat([]byte("x"), 1000), 50*time.Millisecond, stop)
	}()

	var headerTook, bodyTook time.Duration
	var bodyGot []byte
	var rg sync.WaitGroup
	rg.Add(2)
	go func() { defer rg.Done(); headerTook, _ = waitClosed(t, slowHeaders, start, 10*time.Second) }()
	go func() { defer rg.Done(); bodyTook, bodyGot = waitClosed(t, slowBody, start, 10*time.Second) }()
	rg.Wait()
	t.Logf("headers trickled: cut off after %v (ReadHeaderTimeout %v); body trickled: cut off after %v (ReadTimeout %v), answer %q",
		headerTook, headerTimeout, bodyTook, readTimeout, firstLine(bodyGot))
	if headerTook < headerTimeout-100*time.Millisecond || headerTook > headerTimeout+margin {
		t.Errorf("trickled headers cut off after %v; want about %v (+ up to %v)", headerTook, headerTimeout, margin)
	}
	if bodyTook < readTimeout-100*time.Millisecond || bodyTook > readTimeout+margin {
		t.Errorf("trickled body cut off after %v; want about %v (+ up to %v)", bodyTook, readTimeout, margin)
	}
	if len(bodyGot) > 0 && !bytes.HasPrefix(bodyGot, []byte("HTTP/1.1 4")) {
		t.Errorf("the trickled body was answered %q; want a 4xx or nothing", firstLine(bodyGot))
	}
	ta.waitIngestsInFlight(t, 0)
	if normal.Load() < 5 || normalFailed.Load() > 0 {
		t.Errorf("%d normal webhooks sent meanwhile, %d failed; want at least 5, none failed", normal.Load(), normalFailed.Load())
	}
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	return string(line)
}

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, read: l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// sendHuge posts size bytes to path over a raw connection, with a
// Content-Length or chunked, while reading the answer; it returns the
// answer's status and body.
func sendHuge(t *testing.T, addr, path string, size int64, chunked bool) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	framing := fmt.Sprintf("Content-Length: %d", size)
	if chunked {
		framing = "Transfer-Encoding: chunked"
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: hookd\r\nContent-Type: application/octet-stream\r\n%s\r\n\r\n", path, framing)
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			if chunked {
				if _, err := fmt.Fprintf(conn, "%x\r\n", len(chunk)); err != nil {
					return
				}
			}
			if _, err := conn.Write(chunk); err != nil {
				return // the server stopped reading and closed: expected
			}
			if chunked {
				if _, err := io.WriteString(conn, "\r\n"); err != nil {
					return
				}
			}
		}
		if chunked {
			io.WriteString(conn, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer to a %d-byte body: %v", size, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	conn.Close()
	<-done
	return resp.StatusCode, raw
}

// TestHugeBodyNotRead: 100 MiB sent to a source with a 1 MiB limit is
// refused with 413 after the server read at most a little more than the
// limit, with and without Content-Length; the process's allocations stay
// far below the body's size. Not parallel, so that the allocation figure is
// this test's alone.
func TestHugeBodyNotRead(t *testing.T) {
	var read atomic.Int64
	ta := setupWith(t, func(cfg *config.Config) {
		small := testSource("small")
		small.MaxBodyBytes = 1 << 20
		cfg.Sources = []webhook.Source{small}
	}, func(opts *app.Options) {
		opts.Listener = countingListener{Listener: opts.Listener, read: &read}
	})
	const huge = 100 << 20
	for _, chunked := range []bool{false, true} {
		name := map[bool]string{false: "Content-Length", true: "chunked"}[chunked]
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		read.Store(0)
		status, raw := sendHuge(t, ta.Addr(), "/webhook/small", huge, chunked)
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: 100 MiB sent, server read %d bytes, process allocated %d bytes meanwhile", name, read.Load(), allocated)
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d %s; want 413", name, status, raw)
			continue
		}
		if e := decodeError(t, raw); e.Code != "body_too_large" {
			t.Errorf("%s: code %q; want body_too_large", name, e.Code)
		}
		if n := read.Load(); n > 2<<20 {
			t.Errorf("%s: the server read %d bytes of a body over a 1 MiB limit; want < 2 MiB", name, n)
		}
		if allocated > 16<<20 {
			t.Errorf("%s: the process allocated %d bytes while refusing; want < 16 MiB", name, allocated)
		}
	}
	ta.checkRows(t, 0, 0)
}

// TestServerBodyCap: HOOKD_MAX_BODY_BYTES caps a source whose own limit is
// higher, with and without Content-Length.
func TestServerBodyCap(t *testing.T) {
	t.Parallel()
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxBodyBytes = 64 << 10
		cfg.Sources = []webhook.Source{testSource("loose")} // 1 MiB
	})
	for _, chunked := range []bool{false, true} {
		status, raw := sendHuge(t, ta.Addr(), "/webhook/loose", 128<<10, chunked)
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked %v: %d %s; want 413", chunked, status, raw)
		}
	}
	if status, _, raw := ta.postFull(t, "/webhook/loose", bytes.Repeat([]byte("x"), 64<<10)); status != http.StatusAccepted {
		t.Errorf("a body of exactly the cap: %d %s; want 202", status, raw)
	}
	ta.checkRows(t, 1, 0)
}

// TestLiveStreamOutlivesReadTimeout: the live stream keeps delivering
// changes long after the server's read and write timeouts have passed.
func TestLiveStreamOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	jwtSecret := auth.NewSecret()
	ta := setup(t, func(cfg *config.Config) {
		cfg.JWTSecret = auth.EncodeSecret(jwtSecret)
		cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.WriteTimeout = timeout, timeout, timeout
		cfg.Sources = []webhook.Source{testSource("s")}
	})
	// Issued here rather than by a login, whose password hashing could take
	// longer than these timeouts under the race detector.
	token, _, err := auth.NewTokens(jwtSecret, time.Hour, nil).Issue(auth.Principal{Username: "admin", Role: auth.RoleAdmin, Kind: auth.KindUser})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", ta.base+"/api/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET /api/stream: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/stream: %d", resp.StatusCode)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	time.Sleep(4 * timeout)
	id := ta.mustAccept(t, "s", []byte(`{"late":true}`), jsonHeader()).ID
	deadline := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before the change of %s arrived (read and write timeouts %v)", id, timeout)
			}
			if strings.HasPrefix(line, "data: ") && strings.Contains(line, id) {
				resp.Body.Close()
				for range lines {
				}
				return
			}
		case <-deadline:
			t.Fatalf("no change for %s on the stream within 10s", id)
		}
	}
}

// TestOversizeHeaders: headers beyond the 64 KiB cap get 431 and nothing is
// stored; a webhook with ordinary headers is accepted.
func TestOversizeHeaders(t *testing.T) {
	t.Parallel()
	ta := setup(t, func(cfg *config.Config) { cfg.Sources = []webhook.Source{testSource("s")} })
	conn, err := net.Dial("tcp", ta.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// Written while the answer is read: the server stops reading at the cap.
	go fmt.Fprintf(conn, "POST /webhook/s HTTP/1.1\r\nHost: hookd\r\nX-Pad: %s\r\nContent-Length: 2\r\n\r\n{}", strings.Repeat("a", 100<<10))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB of headers: %d; want 431", resp.StatusCode)
	}
	header := http.Header{"X-Pad": {strings.Repeat("a", 8<<10)}}
	if status, raw := ta.post(t, "/webhook/s", []byte(`{}`), header); status != http.StatusAccepted {
		t.Errorf("8 KiB of headers: %d %s; want 202", status, raw)
	}
	ta.checkRows(t, 1, 0)
}
