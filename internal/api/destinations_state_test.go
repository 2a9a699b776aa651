package api_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// destinationCircuit reads a destination's circuit through the API.
func (ta *testApp) destinationCircuit(t *testing.T, token, name string) api.CircuitView {
	t.Helper()
	v := get[api.DestinationView](t, ta, "/api/destinations/"+name, token)
	if v.Circuit == nil {
		t.Fatalf("GET /api/destinations/%s shows no circuit", name)
	}
	return *v.Circuit
}

// TestCircuitOpensAndAdminEnables: a receiver that keeps failing opens its
// destination's circuit after HOOKD_BREAKER_FAILURES attempts; the API
// shows it (to viewers too), the receiver then sees nothing more and the
// delivery keeps its remaining retries; only an admin may enable it, and
// enabling delivers what waited. The healthy destination is unaffected.
func TestCircuitOpensAndAdminEnables(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	flaky := startReceiver(t, switchable(&failing))
	stable := startReceiver(t, switchable(new(atomic.Bool)))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github")}
		cfg.Destinations = []webhook.Destination{destination("flaky", flaky.URL(), "github"), destination("stable", stable.URL(), "github")}
		cfg.MaxRetries = 10
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.BreakerFailures = 3
		cfg.BreakerCooldown = time.Hour // stays open until enabled
	}, nil)
	admin, viewer := ta.admin(t), ta.viewer(t)
	events := ta.openStream(t, "/api/stream?source=nothing-matches", viewer)

	if c := ta.destinationCircuit(t, viewer, "flaky"); c.Circuit != store.CircuitClosed || c.ConsecutiveFailures != 0 {
		t.Fatalf("circuit before any attempt = %+v; want closed", c)
	}
	id := ta.ingest(t, "github", []byte(`{"n":1}`), nil)
	waitFor(t, "the circuit to open", func() bool {
		return ta.destinationCircuit(t, viewer, "flaky").Circuit == store.CircuitOpen
	})
	c := ta.destinationCircuit(t, viewer, "flaky")
	if c.ConsecutiveFailures != 3 || c.OpenUntil == nil || time.Until(*c.OpenUntil) < 50*time.Minute ||
		c.FailingSince == nil || !strings.Contains(c.LastError, "503") {
		t.Errorf("open circuit = %+v; want 3 failures, open for about an hour, failing since, the 503", c)
	}
	// A filtered stream still hears of it: destination changes pass every filter.
	if ev := events.next(t); ev.name != stream.KindDestinationCircuit || ev.change.Destination != "flaky" || ev.change.Circuit != "open" {
		t.Errorf("stream event = %+v; want destination.circuit open for flaky", ev)
	}

	// While open, nothing reaches the receiver and no retry is used.
	time.Sleep(300 * time.Millisecond) // several retry delays
	if n := len(flaky.Arrivals()); n != 3 {
		t.Errorf("the failing receiver got %d requests; want the 3 before the circuit opened", n)
	}
	ev := get[eventDetail](t, ta, "/api/webhooks/"+id, admin)
	for _, d := range ev.DeliveryList {
		switch {
		case d.Destination == "stable" && d.Status != webhook.StatusSuccess:
			t.Errorf("the healthy destination's delivery is %s; want success", d.Status)
		case d.Destination == "flaky" && (d.Status.Terminal() || len(d.AttemptList) != 3):
			t.Errorf("the held delivery is %s after %d attempts; want waiting after 3", d.Status, len(d.AttemptList))
		}
	}
	list := get[struct{ Items []api.DestinationView }](t, ta, "/api/destinations", viewer)
	for _, v := range list.Items {
		want := store.CircuitClosed
		if v.Name == "flaky" {
			want = store.CircuitOpen
		}
		if v.Circuit == nil || v.Circuit.Circuit != want {
			t.Errorf("GET /api/destinations shows %s's circuit as %+v; want %s", v.Name, v.Circuit, want)
		}
	}

	enable := func(token string) response {
		return ta.call(t, request{method: "POST", path: "/api/destinations/flaky/enable", token: token})
	}
	wantError(t, enable(viewer), http.StatusForbidden, "forbidden")
	wantError(t, ta.call(t, request{method: "POST", path: "/api/destinations/nope/enable", token: admin}), http.StatusNotFound, "not_found")
	failing.Store(false)
	v := want[api.DestinationView](t, enable(admin), http.StatusOK, "enable")
	if v.Circuit == nil || v.Circuit.Circuit != store.CircuitClosed || v.Circuit.ConsecutiveFailures != 0 || v.Circuit.FailingSince != nil {
		t.Errorf("enable answered circuit %+v; want closed with no failures", v.Circuit)
	}
	ta.waitEvent(t, admin, id, 2)
	if ev := get[eventDetail](t, ta, "/api/webhooks/"+id, admin); ev.Status != webhook.StatusSuccess {
		t.Errorf("event after enabling = %s; want success", ev.Status)
	}
}

// TestDestinationDisabledAfterFailingTooLong: a destination failing
// without a success for HOOKD_DISABLE_AFTER is disabled: the API and the
// stream say so, its receiver gets nothing more, its delivery stays
// pending, not dead; enabling it delivers the backlog.
func TestDestinationDisabledAfterFailingTooLong(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	flaky := startReceiver(t, switchable(&failing))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github")}
		cfg.Destinations = []webhook.Destination{destination("flaky", flaky.URL(), "github")}
		cfg.MaxRetries = 100
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.RetryMaxDelay = 50 * time.Millisecond
		cfg.BreakerFailures = 2
		cfg.BreakerCooldown = 50 * time.Millisecond
		cfg.DisableAfter = 600 * time.Millisecond
	}, nil)
	admin := ta.admin(t)
	events := ta.openStream(t, "/api/stream", admin)
	var ids []string
	for i := range 3 {
		ids = append(ids, ta.ingest(t, "github", []byte(`{"n":`+string(rune('0'+i))+`}`), nil))
	}
	waitFor(t, "the destination to be disabled", func() bool {
		return ta.destinationCircuit(t, admin, "flaky").Circuit == store.CircuitDisabled
	})
	c := ta.destinationCircuit(t, admin, "flaky")
	if c.DisabledAt == nil || c.FailingSince == nil || c.DisabledAt.Sub(*c.FailingSince) < 600*time.Millisecond ||
		!strings.Contains(c.DisabledReason, "503") {
		t.Errorf("disabled circuit = %+v; want disabled at least 600ms after failing since, with the reason", c)
	}
	sawDisabled := false
	for !sawDisabled {
		ev := events.next(t)
		sawDisabled = ev.name == stream.KindDestinationDisabled && ev.change.Destination == "flaky" && ev.change.Circuit == "disabled"
	}

	arrived := len(flaky.Arrivals())
	time.Sleep(300 * time.Millisecond)
	if n := len(flaky.Arrivals()); n != arrived {
		t.Errorf("the disabled destination got %d more requests; want none", n-arrived)
	}
	for _, id := range ids {
		ev := get[eventDetail](t, ta, "/api/webhooks/"+id, admin)
		if ev.Status.Terminal() {
			t.Errorf("event %s is %s while its destination is disabled; want still waiting", id, ev.Status)
		}
	}

	failing.Store(false)
	want[api.DestinationView](t, ta.call(t, request{method: "POST", path: "/api/destinations/flaky/enable", token: admin}), http.StatusOK, "enable")
	for _, id := range ids {
		if ev := ta.waitEvent(t, admin, id, 1); ev.Status != webhook.StatusSuccess {
			t.Errorf("event %s after enabling = %s; want success", id, ev.Status)
		}
	}
}
