package api_test

import (
	"net/http"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// TestRetryAndReplay follows one event through retry (same delivery ids,
// only failed and dead deliveries) and replay (new deliveries to every
// destination, even after success).
func TestRetryAndReplay(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	flaky := startReceiver(t, switchable(&failing))
	stable := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github")}
		cfg.Destinations = []webhook.Destination{destination("flaky", flaky.URL(), "github"), destination("stable", stable.URL(), "github")}
	}, nil)
	admin := ta.admin(t)
	post := func(path string) response { return ta.call(t, request{method: "POST", path: path, token: admin}) }

	id := ta.ingest(t, "github", []byte(`{"n":1}`), nil)
	ev := ta.waitEvent(t, admin, id, 2)
	if ev.Status != webhook.StatusPermanentFailure || ev.byDestination()["flaky"][webhook.StatusPermanentFailure] != 1 {
		t.Fatalf("before retry: status %s, deliveries %v", ev.Status, ev.byDestination())
	}
	flakyID := ""
	for _, d := range ev.DeliveryList {
		if d.Destination == "flaky" {
			flakyID = d.ID
		}
	}

	// Retry while the receiver still fails: tried again, dead again.
	got := want[api.RetryResponse](t, post("/api/webhooks/"+id+"/retry"), http.StatusOK, "retry")
	if got.Requeued != 1 || got.EventID != id {
		t.Fatalf("retry = %+v, want 1 requeued", got)
	}
	waitFor(t, "the retried delivery's second try", func() bool { return flaky.Tries()[flakyID] == 2 })
	ev = ta.waitEvent(t, admin, id, 2)
	if ev.Status != webhook.StatusPermanentFailure {
		t.Fatalf("after a failing retry: status %s", ev.Status)
	}

	// Retry once it works: same delivery id, the success is left alone.
	failing.Store(false)
	got = want[api.RetryResponse](t, post("/api/webhooks/"+id+"/retry"), http.StatusOK, "retry")
	if got.Requeued != 1 {
		t.Fatalf("retry = %+v, want 1 requeued", got)
	}
	waitFor(t, "the event to succeed", func() bool {
		ev = ta.waitEvent(t, admin, id, 2)
		return ev.Status == webhook.StatusSuccess
	})
	if tries := flaky.Tries(); len(tries) != 1 || tries[flakyID] != 3 {
		t.Errorf("flaky receiver saw webhook-ids %v; want %s three times", tries, flakyID)
	}
	if n := len(stable.Arrivals()); n != 1 {
		t.Errorf("stable receiver got %d arrivals; retry must not resend a success", n)
	}

	// Nothing left to retry: 0, and says why.
	got = want[api.RetryResponse](t, post("/api/webhooks/"+id+"/retry"), http.StatusOK, "retry")
	if got.Requeued != 0 || got.Message == "" {
		t.Errorf("retry with nothing failed = %+v; want 0 and a message", got)
	}

	// Replay: new deliveries, new webhook-ids, to both destinations.
	rep := want[api.ReplayResponse](t, post("/api/webhooks/"+id+"/replay"), http.StatusOK, "replay")
	if rep.Deliveries != 2 || len(rep.DeliveryIDs) != 2 || slices.Contains(rep.DeliveryIDs, flakyID) {
		t.Fatalf("replay = %+v; want 2 new deliveries", rep)
	}
	ev = ta.waitEvent(t, admin, id, 4)
	if ev.Status != webhook.StatusSuccess {
		t.Errorf("after replay: status %s, deliveries %v", ev.Status, ev.byDestination())
	}
	waitFor(t, "the replays to arrive", func() bool { return len(flaky.Tries()) == 2 && len(stable.Tries()) == 2 })
	// Each receiver got exactly one new webhook-id, once: a receiver that
	// deduplicates takes the replay.
	for name, rcv := range map[string]*receiver.Receiver{"flaky": flaky, "stable": stable} {
		fresh := 0
		for webhookID, n := range rcv.Tries() {
			if slices.Contains(rep.DeliveryIDs, webhookID) {
				fresh++
				if n != 1 {
					t.Errorf("%s saw the replay %s %d times", name, webhookID, n)
				}
			}
		}
		if fresh != 1 {
			t.Errorf("%s saw %d of the replay's webhook-ids %v, want 1 (tries %v)", name, fresh, rep.DeliveryIDs, rcv.Tries())
		}
	}

	// Bad or unknown ids change nothing.
	for _, action := range []string{"retry", "replay"} {
		wantError(t, post("/api/webhooks/evt_01ARZ3NDEKTSV4RRFFQ69G5FAV/"+action), 404, "not_found")
		wantError(t, post("/api/webhooks/not-an-id/"+action), 400, "invalid", "id")
	}
	if ev = ta.waitEvent(t, admin, id, 4); len(ev.DeliveryList) != 4 {
		t.Errorf("deliveries changed after rejected requests: %v", ev.byDestination())
	}
}

// TestBulkRetry re-queues dead deliveries by filter, after a dry run that
// changes nothing and bad bodies that change nothing either.
func TestBulkRetry(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	flaky := startReceiver(t, switchable(&failing))
	stable := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github"), source("stripe")}
		cfg.Destinations = []webhook.Destination{
			destination("flaky", flaky.URL(), "github", "stripe"),
			destination("stable", stable.URL(), "github"),
		}
	}, nil)
	admin := ta.admin(t)
	bulk := func(body any) response {
		return ta.call(t, request{method: "POST", path: "/api/webhooks/retry", token: admin, body: body})
	}
	var github, stripe []string
	for range 3 {
		github = append(github, ta.ingest(t, "github", []byte(`{}`), nil))
	}
	for range 2 {
		stripe = append(stripe, ta.ingest(t, "stripe", []byte(`{}`), nil))
	}
	for _, id := range github {
		ta.waitEvent(t, admin, id, 2)
	}
	for _, id := range stripe {
		ta.waitEvent(t, admin, id, 1)
	}
	dead := func() int64 {
		return get[eventPage](t, ta, "/api/webhooks?status=permanent_failure", admin).Total
	}
	if n := dead(); n != 5 {
		t.Fatalf("%d dead events, want 5", n)
	}

	got := want[api.BulkRetryResponse](t, bulk(map[string]any{"source": "github", "dry_run": true}), http.StatusOK, "dry run")
	if !reflect.DeepEqual(got, api.BulkRetryResponse{Matched: 3, Requeued: 0, DryRun: true}) {
		t.Errorf("dry run = %+v, want 3 matched and nothing requeued", got)
	}
	for _, b := range []struct {
		body     any
		mentions []string
	}{
		{"not json", []string{"body"}},
		{"", []string{"body", "JSON object is required"}},
		{`{"source":"github"} {}`, []string{"body", "after the JSON object"}},
		{map[string]any{"sourc": "github"}, []string{"sourc"}},
		{map[string]any{"from": "yesterday"}, []string{"from"}},
		{map[string]any{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, []string{"to"}},
		{map[string]any{"source": "no spaces"}, []string{"source"}},
		{map[string]any{"destination": "../x"}, []string{"destination"}},
		{map[string]any{"dry_run": "yes"}, []string{"dry_run"}},
	} {
		wantError(t, bulk(b.body), 400, "invalid", b.mentions...)
	}
	if n := dead(); n != 5 {
		t.Fatalf("%d dead events after a dry run and rejected requests, want still 5", n)
	}

	failing.Store(false)
	got = want[api.BulkRetryResponse](t, bulk(map[string]any{"source": "github", "destination": "flaky"}), http.StatusOK, "bulk retry")
	if !reflect.DeepEqual(got, api.BulkRetryResponse{Matched: 3, Requeued: 3}) {
		t.Errorf("bulk retry = %+v, want 3 matched and requeued", got)
	}
	waitFor(t, "github events to succeed", func() bool {
		return get[eventPage](t, ta, "/api/webhooks?status=success&source=github", admin).Total == 3
	})
	if n := dead(); n != 2 {
		t.Errorf("%d dead events, want the 2 stripe ones left", n)
	}

	got = want[api.BulkRetryResponse](t, bulk(map[string]any{"to": "2000-01-01T00:00:00Z"}), http.StatusOK, "bulk retry of the past")
	if got.Matched != 0 || got.Requeued != 0 {
		t.Errorf("bulk retry of events before 2000 = %+v, want 0", got)
	}
	got = want[api.BulkRetryResponse](t, bulk(map[string]any{}), http.StatusOK, "bulk retry of all")
	if got.Matched != 2 || got.Requeued != 2 {
		t.Errorf("bulk retry {} = %+v, want the 2 left", got)
	}
	waitFor(t, "every event to succeed", func() bool { return dead() == 0 })
}

// TestBulkRetryByEventIDs re-queues the dead deliveries of listed events
// only: other dead events stay dead, successes are left alone, unknown ids
// are reported, a dry run and bad lists change nothing.
func TestBulkRetryByEventIDs(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	flaky := startReceiver(t, switchable(&failing))
	stable := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github"), source("stripe")}
		cfg.Destinations = []webhook.Destination{
			destination("flaky", flaky.URL(), "github"),
			destination("stable", stable.URL(), "github", "stripe"),
		}
	}, nil)
	admin, viewer := ta.admin(t), ta.viewer(t)
	bulk := func(token string, body any) response {
		return ta.call(t, request{method: "POST", path: "/api/webhooks/retry", token: token, body: body})
	}
	var github []string
	for range 4 {
		github = append(github, ta.ingest(t, "github", []byte(`{}`), nil))
	}
	ok := ta.ingest(t, "stripe", []byte(`{}`), nil)
	for _, id := range github {
		ta.waitEvent(t, admin, id, 2)
	}
	ta.waitEvent(t, admin, ok, 1)
	deadEvents := func() []string {
		var ids []string
		for _, e := range get[eventPage](t, ta, "/api/webhooks?status=permanent_failure", admin).Items {
			ids = append(ids, e.ID)
		}
		slices.Sort(ids)
		return ids
	}
	if n := len(deadEvents()); n != 4 {
		t.Fatalf("%d dead events, want 4", n)
	}
	const unknown = "evt_01ARZ3NDEKTSV4RRFFQ69G5FAV"

	tooMany := make([]string, api.MaxBulkRetryEvents+1)
	for i := range tooMany {
		tooMany[i] = github[0]
	}
	for _, b := range []struct {
		body     any
		mentions []string
	}{
		{map[string]any{"event_ids": []string{}}, []string{"event_ids", "at least one"}},
		{map[string]any{"event_ids": []string{"nope"}}, []string{"event_ids[0]", "nope"}},
		{map[string]any{"event_ids": []string{github[0], "evt_short"}}, []string{"event_ids[1]"}},
		{map[string]any{"event_ids": tooMany}, []string{"event_ids", "1000"}},
		{map[string]any{"event_ids": github[:1], "source": "github"}, []string{"event_ids", "source"}},
		{map[string]any{"event_ids": github[:1], "to": "2026-01-01T00:00:00Z"}, []string{"event_ids", "to"}},
		{map[string]any{"event_ids": github[0]}, []string{"event_ids"}},
		{map[string]any{"event_ids": []any{1}}, []string{"event_ids"}},
	} {
		wantError(t, bulk(admin, b.body), 400, "invalid", b.mentions...)
	}
	wantError(t, bulk(viewer, map[string]any{"event_ids": github}), http.StatusForbidden, "forbidden")

	selection := []string{github[0], github[1], github[1], ok, unknown}
	got := want[api.BulkRetryResponse](t, bulk(admin, map[string]any{"event_ids": selection, "dry_run": true}), http.StatusOK, "dry run")
	if !reflect.DeepEqual(got, api.BulkRetryResponse{Matched: 2, DryRun: true, NotFound: []string{unknown}}) {
		t.Errorf("dry run = %+v, want 2 matched (the duplicate once, the success not), nothing requeued, the unknown id reported", got)
	}
	if n := len(deadEvents()); n != 4 {
		t.Fatalf("%d dead events after a dry run and rejected requests, want still 4", n)
	}
	before := flaky.Tries()

	failing.Store(false)
	got = want[api.BulkRetryResponse](t, bulk(admin, map[string]any{"event_ids": selection}), http.StatusOK, "retry")
	if !reflect.DeepEqual(got, api.BulkRetryResponse{Matched: 2, Requeued: 2, NotFound: []string{unknown}}) {
		t.Errorf("retry = %+v, want 2 matched and requeued, the unknown id reported", got)
	}
	for _, id := range github[:2] {
		if ev := ta.waitEvent(t, admin, id, 2); ev.Status != webhook.StatusSuccess {
			t.Errorf("retried event %s is %s, want success", id, ev.Status)
		}
	}
	rest := slices.Sorted(slices.Values(github[2:]))
	if got := deadEvents(); !slices.Equal(got, rest) {
		t.Errorf("dead events after the retry = %v, want only the two not listed %v", got, rest)
	}
	// Same deliveries (same webhook-id), each tried once more; the
	// successful delivery and the stripe event were not sent again.
	after := flaky.Tries()
	for id, n := range after {
		if before[id] == 0 {
			t.Errorf("the retry sent a new webhook-id %s; want the dead deliveries' own", id)
		} else if d := n - before[id]; d > 1 {
			t.Errorf("webhook-id %s tried %d more times, want at most once", id, d)
		}
	}
	if n := len(stable.Arrivals()); n != 5 {
		t.Errorf("the stable receiver got %d requests, want the first 5 only", n)
	}

	got = want[api.BulkRetryResponse](t, bulk(admin, map[string]any{"event_ids": github[:2]}), http.StatusOK, "repeated retry")
	if got.Matched != 0 || got.Requeued != 0 {
		t.Errorf("repeating the retry = %+v, want nothing matched", got)
	}
}
