package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

func TestMain(m *testing.M) {
	auth.BcryptCost = bcrypt.MinCost // before any test runs, so no race
	// Every test stops its App, closes its receivers and its clients' idle
	// connections, and ends its streams, so nothing needs to be ignored.
	goleak.VerifyTestMain(m)
}

// adminPassword is the bootstrap admin's password in every test app.
const adminPassword = "correct horse battery staple"

// waitTimeout bounds waits that only fail when the code under test is wrong.
const waitTimeout = 15 * time.Second

// testApp is a running hookd on loopback with a client for it.
type testApp struct {
	*app.App
	base   string
	client *http.Client
}

// setup starts a hookd on a temp SQLite file. Deliveries that fail are dead
// at once (MAX_RETRIES 0) unless configure says otherwise.
func setup(t *testing.T, configure func(cfg *config.Config), adjust func(opts *app.Options)) *testApp {
	t.Helper()
	cfg := config.Default()
	cfg.Host = "127.0.0.1"
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "hookd.db")
	cfg.AllowPrivateDestinations = true
	cfg.AdminPassword = adminPassword
	cfg.MaxRetries = 0
	// The circuit breaker would hold back the deliveries these tests drive
	// to dead on purpose; destinations_state_test.go turns it on.
	cfg.BreakerFailures = 0
	cfg.RetryBaseDelay = 50 * time.Millisecond
	cfg.RetryMaxDelay = time.Second
	cfg.ShutdownTimeout = 5 * time.Second
	if configure != nil {
		configure(&cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	opts := app.Options{Logger: slog.New(slog.DiscardHandler), Stderr: io.Discard, Listener: ln}
	if adjust != nil {
		adjust(&opts)
	}
	a, err := app.New(t.Context(), cfg, opts)
	if err != nil {
		ln.Close()
		t.Fatalf("app.New: %v", err)
	}
	if err := a.Start(t.Context()); err != nil {
		stopErr := a.Stop(context.Background())
		t.Fatalf("Start: %v (stop: %v)", err, stopErr)
	}
	ta := &testApp{App: a, base: "http://" + a.Addr(), client: &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		ta.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return ta
}

// request is one API call.
type request struct {
	method, path string
	token        string
	// body is sent as is when it is a string or []byte, else as JSON.
	body   any
	header http.Header
}

// response is what came back.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string {
	return strings.TrimSpace(string(r.body))
}

// call makes a request and reads the whole answer.
func (ta *testApp) call(t *testing.T, req request) response {
	t.Helper()
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal body: %v", err)
		}
		body = bytes.NewReader(raw)
	}
	r, err := http.NewRequestWithContext(t.Context(), req.method, ta.base+req.path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	for k, v := range req.header {
		r.Header[k] = v
	}
	if req.body != nil && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.token != "" {
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	resp, err := ta.client.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.method, req.path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// get is call for a GET that must answer 200 with JSON decoded into T.
func get[T any](t *testing.T, ta *testApp, path, token string) T {
	t.Helper()
	return want[T](t, ta.call(t, request{method: "GET", path: path, token: token}), http.StatusOK, "GET "+path)
}

// want checks a response's status and decodes its JSON body into T.
func want[T any](t *testing.T, r response, status int, what string) T {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, body %s; want %d", what, r.status, r, status)
	}
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: body %s is not the expected JSON: %v", what, r, err)
	}
	return v
}

// apiError is the JSON of every error answer.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// wantError checks an error answer: its status, its code, and that its
// message mentions each of mentions (the field at fault, usually).
func wantError(t *testing.T, r response, status int, code string, mentions ...string) {
	t.Helper()
	e := want[apiError](t, r, status, "error answer")
	if e.Code != code {
		t.Errorf("error code %q (message %q), want %q", e.Code, e.Error, code)
	}
	for _, m := range mentions {
		if !strings.Contains(e.Error, m) {
			t.Errorf("error message %q does not mention %q", e.Error, m)
		}
	}
}

// login logs in and returns the token.
func (ta *testApp) login(t *testing.T, username, password string) string {
	t.Helper()
	r := ta.call(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"username": username, "password": password}})
	return want[struct{ Token string }](t, r, http.StatusOK, "login as "+username).Token
}

// admin returns a token of the bootstrap admin.
func (ta *testApp) admin(t *testing.T) string {
	t.Helper()
	return ta.login(t, "admin", adminPassword)
}

// viewer creates a user with the viewer role through the store and
// returns a token for it.
func (ta *testApp) viewer(t *testing.T) string {
	t.Helper()
	const name, password = "vera", "a viewer's long password"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	err = ta.Store().UserCreate(t.Context(), webhook.User{Username: name, PasswordHash: hash, Role: string(auth.RoleViewer), CreatedAt: time.Now()})
	if err != nil {
		t.Fatalf("create viewer: %v", err)
	}
	return ta.login(t, name, password)
}

// ingest posts a webhook and returns the new event's id.
func (ta *testApp) ingest(t *testing.T, source string, body []byte, header http.Header) string {
	t.Helper()
	if header == nil {
		header = http.Header{"Content-Type": {"application/json"}}
	}
	r := ta.call(t, request{method: "POST", path: "/webhook/" + source, body: body, header: header})
	return want[struct{ ID string }](t, r, http.StatusAccepted, "POST /webhook/"+source).ID
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventDetail is the part of GET /api/webhooks/{id} tests look at.
type eventDetail struct {
	ID              string         `json:"id"`
	Source          string         `json:"source"`
	Status          webhook.Status `json:"status"`
	Payload         string         `json:"payload"`
	PayloadEncoding string         `json:"payload_encoding"`
	Headers         map[string]string
	Attempts        int `json:"attempts"`
	DeliveryList    []struct {
		ID          string         `json:"id"`
		Destination string         `json:"destination"`
		Status      webhook.Status `json:"status"`
		AttemptList []struct {
			Number     int     `json:"number"`
			StatusCode int     `json:"status_code"`
			DurationMs float64 `json:"duration_ms"`
		} `json:"attempt_list"`
	} `json:"delivery_list"`
}

// waitEvent waits until the event and its deliveries are all terminal
// and returns it.
func (ta *testApp) waitEvent(t *testing.T, token, id string, deliveries int) eventDetail {
	t.Helper()
	var ev eventDetail
	waitFor(t, "event "+id+" to settle", func() bool {
		ev = get[eventDetail](t, ta, "/api/webhooks/"+id, token)
		// The event and its deliveries are read one after the other, so
		// the event's status may lag by one commit: wait for both.
		if len(ev.DeliveryList) != deliveries || !ev.Status.Terminal() {
			return false
		}
		for _, d := range ev.DeliveryList {
			if !d.Status.Terminal() {
				return false
			}
		}
		return true
	})
	return ev
}

// byDestination counts an event's deliveries per destination and status.
func (ev eventDetail) byDestination() map[string]map[webhook.Status]int {
	out := map[string]map[webhook.Status]int{}
	for _, d := range ev.DeliveryList {
		if out[d.Destination] == nil {
			out[d.Destination] = map[webhook.Status]int{}
		}
		out[d.Destination][d.Status]++
	}
	return out
}

// startReceiver starts a receiver that keeps its arrivals.
func startReceiver(t *testing.T, b receiver.Behavior) *receiver.Receiver {
	t.Helper()
	r, err := receiver.Start(b, receiver.Options{Keep: true})
	if err != nil {
		t.Fatalf("receiver: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// switchable answers 503 while failing is set, else 200.
func switchable(failing *atomic.Bool) receiver.Behavior {
	return func(context.Context, receiver.Arrival) int {
		if failing.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
}

func source(name string) webhook.Source {
	return webhook.Source{Name: name, MaxBodyBytes: 1 << 20}
}

func destination(name, url string, sources ...string) webhook.Destination {
	return webhook.Destination{Name: name, URL: url, Sources: sources, Timeout: 5 * time.Second, MaxInFlight: 16}
}
