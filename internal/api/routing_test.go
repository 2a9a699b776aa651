package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/webhook"
)

func routingSetup(t *testing.T) *testApp {
	t.Helper()
	return setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{{Name: "stripe", MaxBodyBytes: 1 << 20}, {Name: "github", MaxBodyBytes: 1 << 20}}
		dest := func(name string, sources ...string) webhook.Destination {
			return webhook.Destination{Name: name, URL: "https://" + name + ".example.com/", Sources: sources, Timeout: time.Second, MaxInFlight: 1}
		}
		big := dest("big", "stripe")
		big.Filter = `.payload.amount > 1000`
		charges := dest("charges", "stripe")
		charges.EventTypes = []string{"charge.*"}
		broken := dest("broken", "stripe")
		broken.Filter = `.payload.amount + "x"`
		slow := dest("slow", "stripe")
		slow.Filter = `def f: f; f`
		gh := dest("gh", "github")
		slack := dest("slack", "stripe")
		slack.Headers = map[string]string{"Authorization": "Bearer s3cret"}
		slack.Transform = `{method: "PUT", headers: (.headers + {"x-type": .type}), payload: {text: "\(.type): \(.payload.amount)", id: .payload.id}}`
		cfg.Destinations = []webhook.Destination{big, broken, charges, gh, slack, slow}
	}, nil)
}

// TestFilterTest asks which destinations would receive an event and why
// the others would not, as a viewer (the call changes nothing).
func TestFilterTest(t *testing.T) {
	t.Parallel()
	ta := routingSetup(t)
	token := ta.viewer(t)
	tests := []struct {
		name string
		body string
		want map[string]string // destination → reason ("" receives)
	}{
		{
			name: "big charge", body: `{"source":"stripe","type":"charge.succeeded","payload":{"amount":1500}}`,
			want: map[string]string{"big": "", "broken": "filter_error", "charges": "", "gh": "not_subscribed_to_source", "slack": "", "slow": "filter_timeout"},
		},
		{
			name: "small refund", body: `{"source":"stripe","type":"refund.created","payload":{"amount":5}}`,
			want: map[string]string{"big": "filter_false", "broken": "filter_error", "charges": "event_type_not_wanted", "gh": "not_subscribed_to_source", "slack": "", "slow": "filter_timeout"},
		},
		{
			name: "no source, not JSON", body: `{"type":"charge.failed"}`,
			want: map[string]string{"big": "filter_false", "broken": "", "charges": "", "gh": "", "slack": "", "slow": "filter_timeout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ta.call(t, request{method: "POST", path: "/api/destinations/test-filter", token: token, body: tt.body})
			got := want[api.FilterTestResponse](t, r, http.StatusOK, "test-filter")
			if len(got.Items) != len(tt.want) {
				t.Fatalf("%d items; want %d: %+v", len(got.Items), len(tt.want), got.Items)
			}
			for _, it := range got.Items {
				reason, ok := tt.want[it.Name]
				if !ok || it.Reason != reason || it.Receives != (reason == "") {
					t.Errorf("%s: receives %v, reason %q (%s); want reason %q", it.Name, it.Receives, it.Reason, it.Error, reason)
				}
				if (it.Reason == "filter_error" || it.Reason == "filter_timeout") && it.Error == "" {
					t.Errorf("%s: %s without its error", it.Name, it.Reason)
				}
			}
		})
	}
	r := ta.call(t, request{method: "POST", path: "/api/destinations/test-filter", token: token, body: `{"payload": {"a": }}`})
	wantError(t, r, http.StatusBadRequest, "invalid")
}

// TestTryTransform runs a destination's transform and inline ones: the
// answer is the request that would be sent, a viewer does not see the
// destination's header values, a transform that does not compile is a 400
// naming its position, and one that fails on the payload a 400 with the
// attempt's text.
func TestTryTransform(t *testing.T) {
	t.Parallel()
	ta := routingSetup(t)
	admin, viewer := ta.admin(t), ta.viewer(t)

	call := func(token string, body any) response {
		return ta.call(t, request{method: "POST", path: "/api/destinations/try-transform", token: token, body: body})
	}
	payload := `{"destination":"slack","type":"charge.succeeded","payload":{"amount":1500,"id":98765432109876543210}}`
	got := want[api.TransformTryResponse](t, call(admin, payload), http.StatusOK, "try-transform")
	if got.Method != "PUT" || got.URL != "https://slack.example.com/" || got.Body != `{"id":98765432109876543210,"text":"charge.succeeded: 1500"}` {
		t.Errorf("got %+v", got)
	}
	if got.Headers["authorization"] != "Bearer s3cret" || got.Headers["x-type"] != "charge.succeeded" || got.Headers["content-type"] != "application/json" {
		t.Errorf("admin headers %v", got.Headers)
	}
	got = want[api.TransformTryResponse](t, call(viewer, payload), http.StatusOK, "try-transform as viewer")
	if got.Headers["authorization"] != "(hidden)" {
		t.Errorf("viewer sees the destination's header value: %v", got.Headers)
	}

	got = want[api.TransformTryResponse](t, call(viewer, map[string]any{"transform": `.payload |= {n: .a}`, "payload": map[string]any{"a": 1}}), http.StatusOK, "inline")
	if got.Method != "POST" || got.Body != `{"n":1}` {
		t.Errorf("inline: %+v", got)
	}

	wantError(t, call(viewer, map[string]any{"transform": "{a: \n  .b |", "payload": 1}), http.StatusBadRequest, "invalid", "transform", "line 2, column")
	wantError(t, call(viewer, map[string]any{"transform": `error("no customer")`, "payload": 1}), http.StatusBadRequest, "transform_error", "transform: no customer")
	wantError(t, call(viewer, map[string]any{"destination": "big", "payload": 1}), http.StatusBadRequest, "invalid", "has no transform")
	wantError(t, call(viewer, map[string]any{"destination": "nope", "payload": 1}), http.StatusNotFound, "not_found")
	wantError(t, call(viewer, map[string]any{"payload": 1}), http.StatusBadRequest, "invalid", "transform")
}

// TestDestinationProgramsThroughTheAPI creates, shows and changes a
// destination's filter and transform: a program that does not compile is
// refused naming field and position; viewers see the filter but not the
// transform.
func TestDestinationProgramsThroughTheAPI(t *testing.T) {
	t.Parallel()
	ta := routingSetup(t)
	admin, viewer := ta.admin(t), ta.viewer(t)
	r := ta.call(t, request{method: "POST", path: "/api/destinations", token: admin, body: map[string]any{
		"name": "new", "url": "https://new.example.com/", "sources": []string{"stripe"}, "filter": ".payload.amount >", "transform": "."}})
	wantError(t, r, http.StatusBadRequest, "invalid", "filter", "line 1, column 18")
	r = ta.call(t, request{method: "POST", path: "/api/destinations", token: admin, body: map[string]any{
		"name": "new", "url": "https://new.example.com/", "sources": []string{"stripe"}, "filter": ".payload.amount > 1", "transform": ".payload |= {amount}"}})
	created := want[api.DestinationView](t, r, http.StatusCreated, "create")
	if created.Filter != ".payload.amount > 1" || created.Transform != ".payload |= {amount}" || !created.TransformSet {
		t.Errorf("created %+v", created)
	}
	r = ta.call(t, request{method: "GET", path: "/api/destinations/new", token: viewer})
	seen := want[api.DestinationView](t, r, http.StatusOK, "get as viewer")
	if seen.Filter != ".payload.amount > 1" || seen.Transform != "" || !seen.TransformSet {
		t.Errorf("viewer sees %+v", seen)
	}
	r = ta.call(t, request{method: "PATCH", path: "/api/destinations/new", token: admin, body: map[string]any{"filter": "", "transform": "{payload: (.payload"}})
	wantError(t, r, http.StatusBadRequest, "invalid", "transform", "line 1, column")
	r = ta.call(t, request{method: "PATCH", path: "/api/destinations/new", token: admin, body: map[string]any{"filter": ""}})
	patched := want[api.DestinationView](t, r, http.StatusOK, "patch")
	if patched.Filter != "" || patched.Transform != ".payload |= {amount}" {
		t.Errorf("patched %+v", patched)
	}
}
