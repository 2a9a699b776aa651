package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	name   string
	change stream.Change
}

// sseClient reads a live stream in the background.
type sseClient struct {
	events <-chan sseEvent
}

// openStream opens GET path (token, when given, in the Authorization
// header) and reads its events until the test ends.
func (ta *testApp) openStream(t *testing.T, path, token string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", ta.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// No client timeout: the stream stays open until cancel.
	resp, err := (&http.Client{Transport: ta.client.Transport}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, resp.Header)
	}
	events := make(chan sseEvent, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(events)
		br := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.name != "" {
					events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.change); err != nil {
					ev.name = "bad data: " + line
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return &sseClient{events: events}
}

// next returns the next event, failing the test if none comes in time.
func (c *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(waitTimeout):
		t.Fatal("no event on the stream")
	}
	return sseEvent{}
}

// TestStream follows an event on the live stream, with the token in the
// header and in access_token, with filters, and checks the stream's bad
// input.
func TestStream(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github"), source("stripe")}
		cfg.Destinations = []webhook.Destination{destination("ci", rcv.URL(), "github")}
	}, nil)
	admin, viewer := ta.admin(t), ta.viewer(t)

	all := ta.openStream(t, "/api/stream", admin)
	// A browser's EventSource: the token in the query, filters repeated
	// and comma-separated.
	stripeOnly := ta.openStream(t, "/api/stream?access_token="+viewer+"&source=stripe&status=pending,success&status=failed", "")

	id := ta.ingest(t, "github", []byte(`{"type":"push"}`), nil)
	ev := all.next(t)
	if ev.name != stream.KindEventCreated || ev.change.EventID != id || ev.change.Source != "github" || ev.change.Status != webhook.StatusPending {
		t.Fatalf("first event = %+v; want event.created of %s", ev, id)
	}
	ev = all.next(t)
	if ev.name != stream.KindDeliverySucceeded || ev.change.EventID != id || ev.change.Destination != "ci" || ev.change.Status != webhook.StatusSuccess || ev.change.StatusCode != 200 {
		t.Fatalf("second event = %+v; want delivery.succeeded of %s", ev, id)
	}

	// The github event never reaches the stripe-only stream: the first it
	// gets is the stripe event sent after.
	stripeID := ta.ingest(t, "stripe", []byte(`{"type":"charge.succeeded"}`), nil)
	if ev := stripeOnly.next(t); ev.name != stream.KindEventCreated || ev.change.EventID != stripeID {
		t.Fatalf("stripe-only stream got %+v; want event.created of %s", ev, stripeID)
	}

	for _, b := range []struct{ query, field string }{
		{"status=lost", "status"},
		{"status=pending,,nope", "status"},
		{"source=no%20spaces", "source"},
		{"since=yesterday", "since"},
	} {
		wantError(t, ta.call(t, request{method: "GET", path: "/api/stream?" + b.query, token: viewer}), 400, "invalid", b.field)
	}
	wantError(t, ta.call(t, request{method: "GET", path: "/api/stream?access_token=" + viewer, token: viewer}), 400, "invalid", "access_token")
	wantError(t, ta.call(t, request{method: "GET", path: "/api/stream"}), 401, "unauthorized")
	wantError(t, ta.call(t, request{method: "GET", path: "/api/stream?access_token=nope"}), 401, "invalid_token")
	wantError(t, ta.call(t, request{method: "GET", path: "/api/stream", token: "nope"}), 401, "invalid_token")
}
