package stream

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// sseSetup starts a server whose handler subscribes to h with filter, runs
// before (if any) and then ServeSSE; each ServeSSE result is sent on the
// returned channel. The hub closes before the server at cleanup, ending any
// stream still open.
func sseSetup(t *testing.T, h *Hub, filter Filter, heartbeat time.Duration, before func()) (*httptest.Server, <-chan error) {
	t.Helper()
	errc := make(chan error, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub := h.Subscribe(filter)
		defer sub.Close()
		if before != nil {
			before()
		}
		errc <- ServeSSE(w, r, sub, heartbeat)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	return srv, errc
}

// open starts a stream and returns its response and a reader over the
// body. When Do returns, the handler has subscribed: ServeSSE flushes the
// headers only after that. cancel ends the request early.
func open(t *testing.T, srv *httptest.Server) (resp *http.Response, body *bufio.Reader, cancel context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET stream: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body), cancel
}

// frame is one parsed SSE block (lines up to a blank line).
type frame struct {
	comments        []string
	id, event, data string
}

// readFrame parses the next SSE block from br.
func readFrame(br *bufio.Reader) (frame, error) {
	var f frame
	lines := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return f, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if lines == 0 {
				continue
			}
			return f, nil
		}
		lines++
		if comment, ok := strings.CutPrefix(line, ":"); ok {
			f.comments = append(f.comments, strings.TrimSpace(comment))
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			f.id = value
		case "event":
			f.event = value
		case "data":
			if f.data != "" {
				f.data += "\n"
			}
			f.data += value
		}
	}
}

// nextMessage returns the next block that is not only comments.
func nextMessage(t *testing.T, br *bufio.Reader) frame {
	t.Helper()
	for {
		f, err := readFrame(br)
		if err != nil {
			t.Fatalf("read SSE frame: %v", err)
		}
		if f.id != "" || f.event != "" || f.data != "" {
			return f
		}
	}
}

// checkChange checks that f is message id carrying want.
func checkChange(t *testing.T, f frame, id int, want Change) {
	t.Helper()
	if f.id != strconv.Itoa(id) {
		t.Errorf("id = %q, want %d", f.id, id)
	}
	if f.event != want.Kind {
		t.Errorf("event = %q, want %q", f.event, want.Kind)
	}
	var got Change
	if err := json.Unmarshal([]byte(f.data), &got); err != nil {
		t.Fatalf("decode data %q: %v", f.data, err)
	}
	if !got.At.Equal(want.At) {
		t.Errorf("At = %v, want %v", got.At, want.At)
	}
	got.At = want.At
	if got != want {
		t.Errorf("data decodes to %+v, want %+v", got, want)
	}
}

func receive(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(waitTimeout):
		t.Fatal("ServeSSE did not return")
		return nil
	}
}

func TestServeSSEStreamsChanges(t *testing.T) {
	t.Parallel()
	h := NewHub(Options{})
	srv, errc := sseSetup(t, h, Filter{Sources: []string{"github"}}, 0, nil)
	resp, body, _ := open(t, srv)

	for header, want := range map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}

	at := time.Date(2025, 6, 7, 8, 9, 10, 123_000_000, time.UTC)
	attempt := Change{
		Kind: KindAttempt, EventID: "evt_1", DeliveryID: "dlv_1", Source: "github",
		Destination: "ci", EventType: "push", Status: webhook.StatusFailed,
		DeliveryStatus: webhook.StatusFailed, Attempt: 2, StatusCode: 503,
		Error: "503 Service Unavailable\nretry later", At: at,
	}
	created := Change{Kind: KindEventCreated, EventID: "evt_2", Source: "github", EventType: "issues.opened", Status: webhook.StatusPending, At: at}
	h.Publish(Change{Kind: KindEventCreated, EventID: "evt_other", Source: "stripe", At: at}) // filtered out
	h.Publish(attempt)
	h.Publish(created)

	checkChange(t, nextMessage(t, body), 1, attempt)
	checkChange(t, nextMessage(t, body), 2, created)

	h.Close()
	if f, err := readFrame(body); !errors.Is(err, io.EOF) {
		t.Errorf("after hub Close read %+v, %v; want EOF", f, err)
	}
	if err := receive(t, errc); err != nil {
		t.Errorf("ServeSSE after hub Close = %v, want nil", err)
	}
}

func TestServeSSEHeartbeat(t *testing.T) {
	t.Parallel()
	h := NewHub(Options{})
	srv, _ := sseSetup(t, h, Filter{}, 20*time.Millisecond, nil)
	_, body, _ := open(t, srv)

	for beats := 0; beats < 2; {
		f, err := readFrame(body)
		if err != nil {
			t.Fatalf("read SSE frame: %v", err)
		}
		if len(f.comments) != 1 || f.comments[0] != "heartbeat" || f.data != "" {
			t.Fatalf("frame = %+v, want only a heartbeat comment", f)
		}
		beats++
	}
}

func TestServeSSEClientDisconnect(t *testing.T) {
	t.Parallel()
	h := NewHub(Options{})
	srv, errc := sseSetup(t, h, Filter{}, time.Hour, nil)
	_, _, cancel := open(t, srv)
	cancel()
	if err := receive(t, errc); err != nil {
		t.Errorf("ServeSSE after client went away = %v, want nil", err)
	}
}

// TestServeSSEDropped overflows the subscription before ServeSSE starts
// reading it, so the drop is deterministic: the client gets the buffered
// changes, then a "dropped" message, then the end of the stream.
func TestServeSSEDropped(t *testing.T) {
	t.Parallel()
	const buffer = 2
	h := NewHub(Options{Buffer: buffer})
	srv, errc := sseSetup(t, h, Filter{}, time.Hour, func() {
		for i := 1; i <= buffer+1; i++ {
			h.Publish(change(i, "github", webhook.StatusPending))
		}
	})
	_, body, _ := open(t, srv)

	for i := 1; i <= buffer; i++ {
		checkChange(t, nextMessage(t, body), i, change(i, "github", webhook.StatusPending))
	}
	f := nextMessage(t, body)
	if f.event != "dropped" || !strings.Contains(f.data, "reconnect") {
		t.Errorf("last message = %+v, want event dropped telling the client to reconnect", f)
	}
	if f, err := readFrame(body); !errors.Is(err, io.EOF) {
		t.Errorf("after dropped read %+v, %v; want EOF", f, err)
	}
	if err := receive(t, errc); !errors.Is(err, ErrDropped) {
		t.Errorf("ServeSSE = %v, want ErrDropped", err)
	}
}

// noFlushWriter is a ResponseWriter that cannot flush.
type noFlushWriter struct{ header http.Header }

func (w *noFlushWriter) Header() http.Header         { return w.header }
func (w *noFlushWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *noFlushWriter) WriteHeader(int)             {}

func TestServeSSERequiresFlusher(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{})
	sub := h.Subscribe(Filter{})
	defer sub.Close()
	r := httptest.NewRequest(http.MethodGet, "/events", nil)
	err := ServeSSE(&noFlushWriter{header: http.Header{}}, r, sub, 0)
	if !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("ServeSSE on a writer without Flush = %v, want http.ErrNotSupported", err)
	}
}
