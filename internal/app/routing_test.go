package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// TestFilterRouting sends events to destinations with payload and header
// filters: each gets only the events its filter selects, a filter that
// runs out of time selects nothing and still lets the event be accepted,
// and a destination without a filter gets everything.
func TestFilterRouting(t *testing.T) {
	t.Parallel()
	big := startReceiver(t, receiver.Always(http.StatusOK))
	prod := startReceiver(t, receiver.Always(http.StatusOK))
	slow := startReceiver(t, receiver.Always(http.StatusOK))
	plain := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("stripe")}
		bigDest := testDestination("big", big.URL(), newSecret(t), "stripe")
		bigDest.Filter = `.payload.data.amount > 1000 and .payload.id == 12345678901234567890`
		prodDest := testDestination("prod", prod.URL(), newSecret(t), "stripe")
		prodDest.EventTypes = []string{"charge.*"}
		prodDest.Filter = `.headers["x-env"] == "prod"`
		slowDest := testDestination("slow", slow.URL(), newSecret(t), "stripe")
		slowDest.Filter = `def f: f; f`
		cfg.Destinations = []webhook.Destination{bigDest, prodDest, slowDest, testDestination("plain", plain.URL(), newSecret(t), "stripe")}
	})

	h := func(env string) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "X-Env": {env}}
	}
	first := ta.mustAccept(t, "stripe", []byte(`{"type":"charge.succeeded","id":12345678901234567890,"data":{"amount":1500}}`), h("prod"))
	second := ta.mustAccept(t, "stripe", []byte(`{"type":"charge.succeeded","id":1,"data":{"amount":10}}`), h("dev"))
	third := ta.mustAccept(t, "stripe", []byte(`not json`), h("prod"))
	ta.waitTerminal(t, 15*time.Second, 5, webhook.StatusSuccess)

	for _, tc := range []struct {
		event string
		want  []string
	}{
		{first.ID, []string{"big", "plain", "prod"}},
		{second.ID, []string{"plain"}},
		// Not JSON: payload is null, so the amount filter is false; the
		// type is empty, so prod's event types exclude it.
		{third.ID, []string{"plain"}},
	} {
		got := ta.deliveriesByDestination(t, tc.event)
		var names []string
		for _, n := range []string{"big", "plain", "prod", "slow"} {
			if _, ok := got[n]; ok {
				names = append(names, n)
			}
		}
		if strings.Join(names, ",") != strings.Join(tc.want, ",") {
			t.Errorf("event %s went to %v; want %v", tc.event, names, tc.want)
		}
	}
	if n := len(slow.Arrivals()); n != 0 {
		t.Errorf("the destination whose filter times out got %d arrivals", n)
	}
	if n := len(big.Arrivals()); n != 1 {
		t.Errorf("big got %d arrivals; want 1", n)
	}
	// Every failed filter run is counted, by destination.
	status, metrics := ta.get(t, "/metrics")
	if want := `hookd_filter_errors_total{destination="slow"} 3`; status != http.StatusOK || !strings.Contains(string(metrics), want) {
		t.Errorf("GET /metrics: %d, no line %q", status, want)
	}
}

// capture is a loopback receiver that keeps the method, path and
// headers of what arrives, which receiver.Arrival does not.
type capture struct {
	mu   sync.Mutex
	reqs []captured
}

type captured struct {
	method, path string
	arrival      receiver.Arrival
}

func startCapture(t *testing.T) (*capture, string) {
	t.Helper()
	c := &capture{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs = append(c.reqs, captured{method: r.Method, path: r.URL.RequestURI(),
			arrival: receiver.Arrival{WebhookID: r.Header.Get("webhook-id"), Header: r.Header.Clone(), Body: body, Try: len(c.reqs) + 1}})
		c.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func (c *capture) all() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.reqs...)
}

// TestTransformedDelivery sends an event to a destination whose transform
// changes the method, URL, headers and payload: what arrives is the
// transformed request, signed over the transformed body (checked with the
// Standard Webhooks reference library). A transform that fails sends
// nothing and ends the delivery at once in permanent_failure, its attempt
// saying "transform: …".
func TestTransformedDelivery(t *testing.T) {
	t.Parallel()
	rcv, rcvURL := startCapture(t)
	broken, brokenURL := startCapture(t)
	secret := newSecret(t)
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("stripe")}
		d := testDestination("slack", rcvURL, secret, "stripe")
		d.Headers = map[string]string{"X-Team": "core"}
		d.Transform = `{method: "PUT", url: (.url + "/v2?event=\(.event_id)"),
  headers: (.headers + {"x-kind": .type}),
  payload: {text: "\(.type): \(.payload.data.amount)", id: .payload.id}}`
		b := testDestination("broken", brokenURL, newSecret(t), "stripe")
		b.Transform = `if .payload.customer == null then error("no customer") else . end`
		cfg.Destinations = []webhook.Destination{d, b}
	})
	acc := ta.mustAccept(t, "stripe", []byte(`{"type":"charge.succeeded","id":98765432109876543210,"data":{"amount":1500}}`), jsonHeader())
	recs := ta.records.waitFor(t, 15*time.Second, "both deliveries to end", func(rs []attemptRecord) bool { return countTerminal(rs) >= 2 })

	byDest := ta.deliveriesByDestination(t, acc.ID)
	got := rcv.all()
	if len(got) != 1 {
		t.Fatalf("%d requests arrived; want 1", len(got))
	}
	c := got[0]
	if c.method != http.MethodPut || c.path != "/hook/v2?event="+acc.ID {
		t.Errorf("arrived %s %s; want PUT /hook/v2?event=%s", c.method, c.path, acc.ID)
	}
	if c.arrival.Header.Get("X-Kind") != "charge.succeeded" || c.arrival.Header.Get("X-Team") != "core" {
		t.Errorf("headers %v; want X-Kind and the destination's X-Team", c.arrival.Header)
	}
	wantBody := []byte(`{"id":98765432109876543210,"text":"charge.succeeded: 1500"}`)
	checkArrival(t, "slack", c.arrival, byDest["slack"].ID, wantBody, "application/json", secret)

	if n := len(broken.all()); n != 0 {
		t.Errorf("the destination whose transform fails got %d requests", n)
	}
	var brokenRec *attemptRecord
	for i := range recs {
		if recs[i].Attempt.DeliveryID == byDest["broken"].ID {
			brokenRec = &recs[i]
		}
	}
	switch {
	case brokenRec == nil:
		t.Fatal("no attempt recorded for the broken transform")
	case brokenRec.Status != webhook.StatusPermanentFailure || brokenRec.Attempt.Number != 1:
		t.Errorf("broken: attempt %d ended %s; want permanent_failure at the first", brokenRec.Attempt.Number, brokenRec.Status)
	case brokenRec.Attempt.Error != "transform: no customer" || brokenRec.Attempt.Reason != webhook.ReasonTransformError:
		t.Errorf("broken: attempt error %q reason %q; want \"transform: no customer\", transform_error", brokenRec.Attempt.Error, brokenRec.Attempt.Reason)
	}
}
