package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
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

// TestAdminDisablesDestination: an admin disables a healthy destination
// by hand; the API and the live stream say who did and why, a repeated
// disable keeps the first reason, the delivery engine attempts nothing
// more after its state refresh (2 s) and the deliveries wait, not dead;
// enabling delivers them.
func TestAdminDisablesDestination(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github")}
		cfg.Destinations = []webhook.Destination{destination("ci", rcv.URL(), "github")}
	}, nil)
	admin, viewer := ta.admin(t), ta.viewer(t)
	events := ta.openStream(t, "/api/stream?source=nothing-matches", viewer)
	disable := func(token string, body any) response {
		return ta.call(t, request{method: "POST", path: "/api/destinations/ci/disable", token: token, body: body})
	}
	first := ta.ingest(t, "github", []byte(`{"n":1}`), nil)
	if ev := ta.waitEvent(t, admin, first, 1); ev.Status != webhook.StatusSuccess {
		t.Fatalf("event before disabling = %s; want success", ev.Status)
	}

	wantError(t, disable(viewer, nil), http.StatusForbidden, "forbidden")
	wantError(t, ta.call(t, request{method: "POST", path: "/api/destinations/nope/disable", token: admin}), http.StatusNotFound, "not_found")
	for _, b := range []struct {
		body     any
		mentions []string
	}{
		{map[string]any{"reason": 5}, []string{"reason"}},
		{map[string]any{"reasn": "typo"}, []string{"reasn"}},
		{map[string]any{"reason": "two\nlines"}, []string{"reason", "one line"}},
		{map[string]any{"reason": strings.Repeat("x", 501)}, []string{"reason", "500"}},
		{"not json", []string{"body"}},
	} {
		wantError(t, disable(admin, b.body), http.StatusBadRequest, "invalid", b.mentions...)
	}
	if c := ta.destinationCircuit(t, admin, "ci"); c.Circuit != store.CircuitClosed {
		t.Fatalf("circuit after rejected requests = %+v; want closed", c)
	}

	v := want[api.DestinationView](t, disable(admin, map[string]any{"reason": " receiver maintenance "}), http.StatusOK, "disable")
	const reason = "disabled by admin: receiver maintenance"
	if c := v.Circuit; c == nil || c.Circuit != store.CircuitDisabled || c.DisabledReason != reason || c.DisabledAt == nil {
		t.Fatalf("disable answered circuit %+v; want disabled with reason %q and a time", c, reason)
	}
	// A filtered stream still hears of it: destination changes pass every filter.
	for {
		ev := events.next(t)
		if ev.name == stream.KindDestinationDisabled {
			if ev.change.Destination != "ci" || ev.change.Circuit != "disabled" || ev.change.Error != reason {
				t.Errorf("stream event = %+v; want destination.disabled for ci with the reason", ev)
			}
			break
		}
	}
	// Disabling again (without a body) changes nothing: the first reason stands.
	v = want[api.DestinationView](t, disable(admin, nil), http.StatusOK, "disable again")
	if c := v.Circuit; c == nil || c.Circuit != store.CircuitDisabled || c.DisabledReason != reason {
		t.Errorf("disabling again answered circuit %+v; want the first reason kept", c)
	}
	if c := ta.destinationCircuit(t, viewer, "ci"); c.Circuit != store.CircuitDisabled || c.DisabledReason != reason {
		t.Errorf("viewers see circuit %+v; want disabled", c)
	}

	// Every engine reads the states every 2 s: after that, nothing is attempted.
	time.Sleep(2500 * time.Millisecond)
	var held []string
	for i := range 3 {
		held = append(held, ta.ingest(t, "github", []byte(`{"n":`+strconv.Itoa(i+2)+`}`), nil))
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(rcv.Arrivals()); n != 1 {
		t.Errorf("the disabled destination got %d requests; want only the one before disabling", n)
	}
	for _, id := range held {
		ev := get[eventDetail](t, ta, "/api/webhooks/"+id, admin)
		if ev.Status != webhook.StatusPending || len(ev.DeliveryList) != 1 || len(ev.DeliveryList[0].AttemptList) != 0 {
			t.Errorf("event %s while its destination is disabled: %s, deliveries %+v; want pending, not attempted", id, ev.Status, ev.DeliveryList)
		}
	}

	want[api.DestinationView](t, ta.call(t, request{method: "POST", path: "/api/destinations/ci/enable", token: admin}), http.StatusOK, "enable")
	for _, id := range held {
		if ev := ta.waitEvent(t, admin, id, 1); ev.Status != webhook.StatusSuccess {
			t.Errorf("event %s after enabling = %s; want success", id, ev.Status)
		}
	}
}

// TestRecreatedDestinationStartsClosed: a destination deleted through the
// API while disabled, and created again under the same name, starts with
// a closed circuit in the API and in the delivery engine.
func TestRecreatedDestinationStartsClosed(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github")}
	}, nil)
	admin := ta.admin(t)
	call := func(method, path string, body any) response {
		return ta.call(t, request{method: method, path: path, token: admin, body: body})
	}
	create := func() api.DestinationView {
		return want[api.DestinationView](t, call("POST", "/api/destinations", map[string]any{"name": "temp", "url": rcv.URL(), "sources": []string{"github"}}),
			http.StatusCreated, "create destination")
	}
	create()
	want[api.DestinationView](t, call("POST", "/api/destinations/temp/disable", nil), http.StatusOK, "disable")
	// Let the engine take the disabled state in, so that it must forget it.
	time.Sleep(2500 * time.Millisecond)
	if r := call("DELETE", "/api/destinations/temp", nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r)
	}

	v := create()
	if c := v.Circuit; c == nil || c.Circuit != store.CircuitClosed || c.DisabledReason != "" || c.DisabledAt != nil {
		t.Errorf("the re-created destination's circuit = %+v; want closed, nothing of the old one", c)
	}
	id := ta.ingest(t, "github", []byte(`{}`), nil)
	if ev := ta.waitEvent(t, admin, id, 1); ev.Status != webhook.StatusSuccess {
		t.Errorf("event to the re-created destination = %s; want success", ev.Status)
	}
}
