package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// seedDead stores n events of source, each with one delivery to dest that
// died of reason a minute ago, as an import would: fast, and exactly the
// rows a dead letter leaves.
func seedDead(t *testing.T, ta *testApp, source, dest string, reason webhook.FailureReason, n int) {
	t.Helper()
	dead := time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)
	records := make([]store.EventRecord, n)
	for i := range records {
		ev := webhook.Event{ID: ids.New(ids.Event), Source: source, Type: "seeded", Body: []byte(`{"n":1}`),
			ContentType: "application/json", ReceivedAt: dead.Add(-time.Second), Status: webhook.StatusPermanentFailure}
		d := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: dest, Status: webhook.StatusPermanentFailure,
			Attempts: 1, NextAttemptAt: dead, LastError: "failed: " + string(reason), LastReason: reason, CreatedAt: ev.ReceivedAt, UpdatedAt: dead}
		a := webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: d.ID, Number: 1, StartedAt: dead, Duration: time.Millisecond,
			Error: d.LastError, Reason: reason}
		records[i] = store.EventRecord{Event: ev, Deliveries: []store.DeliveryRecord{{Delivery: d, Attempts: []webhook.Attempt{a}}}}
	}
	stored, err := ta.Store().EventImportMany(t.Context(), records)
	if err != nil || stored != n {
		t.Fatalf("seed %d dead letters: stored %d, %v", n, stored, err)
	}
}

func reasonCounts(t *testing.T, ta *testApp, token, query string) (map[webhook.FailureReason]int64, int64) {
	t.Helper()
	got := get[api.DeadReasonsResponse](t, ta, "/api/dead-letters/reasons"+query, token)
	out := map[webhook.FailureReason]int64{}
	for _, it := range got.Items {
		out[it.Reason] = it.Count
	}
	return out, got.Total
}

// TestDeadLetterReplay counts dead letters by reason and replays them as
// paced background jobs: a replay completes at about its pace while live
// deliveries keep arriving, reports progress, refuses a second job at once,
// and a cancelled one leaves the rest dead.
func TestDeadLetterReplay(t *testing.T) {
	t.Parallel()
	archive := startReceiver(t, receiver.Always(http.StatusOK))
	live := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github"), source("live")}
		cfg.Destinations = []webhook.Destination{
			destination("archive", archive.URL(), "github"),
			destination("live", live.URL(), "live"),
		}
	}, nil)
	admin, viewer := ta.admin(t), ta.viewer(t)
	const n5xx, nDNS = 2000, 1000
	seedDead(t, ta, "github", "archive", webhook.ReasonHTTP5xx, n5xx)
	seedDead(t, ta, "github", "archive", webhook.ReasonDNS, nDNS)

	// Counts, for a viewer too, filtered.
	counts, total := reasonCounts(t, ta, viewer, "")
	if counts[webhook.ReasonHTTP5xx] != n5xx || counts[webhook.ReasonDNS] != nDNS || total != n5xx+nDNS {
		t.Fatalf("reasons = %v (total %d)", counts, total)
	}
	if counts, _ := reasonCounts(t, ta, admin, "?destination=live"); len(counts) != 0 {
		t.Errorf("reasons of a destination without dead letters = %v", counts)
	}
	wantError(t, ta.call(t, request{method: "GET", path: "/api/dead-letters/reasons?status=dead", token: admin}), 400, "invalid", "status")

	start := func(token string, body any) response {
		return ta.call(t, request{method: "POST", path: "/api/dead-letters/replays", token: token, body: body})
	}
	wantError(t, start(viewer, map[string]any{}), http.StatusForbidden, "forbidden")
	for _, b := range []struct {
		body     any
		mentions []string
	}{
		{map[string]any{"reason": "nope"}, []string{"reason", "nope"}},
		{map[string]any{"rate": -1}, []string{"rate"}},
		{map[string]any{"rate": api.MaxReplayRate + 1}, []string{"rate"}},
		{map[string]any{"source": "bad name!"}, []string{"source"}},
		{map[string]any{"from": "yesterday"}, []string{"from"}},
		{map[string]any{"event_ids": []string{}}, []string{"event_ids"}},
	} {
		wantError(t, start(admin, b.body), 400, "invalid", b.mentions...)
	}
	dry := want[api.ReplayDryRunResponse](t, start(admin, map[string]any{"reason": "http_5xx", "dry_run": true}), http.StatusOK, "dry run")
	if dry.Matched != n5xx || dry.Rate != api.DefaultReplayRate || !dry.DryRun {
		t.Errorf("dry run = %+v", dry)
	}

	// A replay of the 5xx ones at 1,000/s, while live traffic flows.
	const rate = 1000
	job := want[api.ReplayJob](t, start(admin, map[string]any{"reason": "http_5xx", "rate": rate}), http.StatusAccepted, "start")
	if job.State != api.ReplayRunning || job.Matched != n5xx || job.Rate != rate || job.Filter.Reason != webhook.ReasonHTTP5xx {
		t.Fatalf("started job = %+v", job)
	}
	wantError(t, start(admin, map[string]any{"reason": "dns"}), http.StatusConflict, "conflict", job.ID)
	var liveIDs []string
	sawProgress := false
	for {
		liveIDs = append(liveIDs, ta.ingest(t, "live", []byte(`{"live":true}`), nil))
		j := get[api.ReplayJob](t, ta, "/api/dead-letters/replays/"+job.ID, viewer)
		if j.Requeued+j.Remaining != j.Matched && j.State == api.ReplayRunning {
			t.Fatalf("progress does not add up: %+v", j)
		}
		if j.State == api.ReplayRunning && j.Requeued > 0 && j.Requeued < n5xx {
			sawProgress = true
		}
		if j.State != api.ReplayRunning {
			job = j
			break
		}
		if time.Since(job.StartedAt) > waitTimeout {
			t.Fatalf("replay still running after %s: %+v", waitTimeout, j)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if job.State != api.ReplayDone || job.Requeued != n5xx || job.Remaining != 0 || job.FinishedAt == nil {
		t.Fatalf("finished job = %+v", job)
	}
	if !sawProgress {
		t.Error("never saw the job part way")
	}
	// The pace: 2,000 at 1,000/s take about 2 s (the first batch goes at
	// once). Bounds are generous: a slow machine may only be slower.
	elapsed := job.FinishedAt.Sub(job.StartedAt)
	if min := time.Duration(float64(n5xx-api.DefaultReplayRate) / rate * float64(time.Second)); elapsed < min {
		t.Errorf("replayed %d in %s, faster than the pace of %d/s allows", n5xx, elapsed, rate)
	}
	// Live deliveries kept flowing meanwhile: each one sent during the
	// replay arrives.
	for _, id := range liveIDs {
		if ev := ta.waitEvent(t, admin, id, 1); ev.Status != webhook.StatusSuccess {
			t.Errorf("live event %s = %s", id, ev.Status)
		}
	}
	waitFor(t, "every replayed delivery to arrive", func() bool { return len(archive.Arrivals()) >= n5xx })
	counts, _ = reasonCounts(t, ta, admin, "")
	if counts[webhook.ReasonHTTP5xx] != 0 || counts[webhook.ReasonDNS] != nDNS {
		t.Errorf("reasons after the replay = %v", counts)
	}

	// A slow replay of the DNS ones, cancelled part way.
	slow := want[api.ReplayJob](t, start(admin, map[string]any{"reason": "dns", "rate": 100}), http.StatusAccepted, "start slow")
	waitFor(t, "the slow replay to move some", func() bool {
		return get[api.ReplayJob](t, ta, "/api/dead-letters/replays/"+slow.ID, admin).Requeued >= 50
	})
	wantError(t, ta.call(t, request{method: "DELETE", path: "/api/dead-letters/replays/" + slow.ID, token: viewer}), http.StatusForbidden, "forbidden")
	cancelled := want[api.ReplayJob](t, ta.call(t, request{method: "DELETE", path: "/api/dead-letters/replays/" + slow.ID, token: admin}), http.StatusOK, "cancel")
	if cancelled.State != api.ReplayCancelled || cancelled.Requeued <= 0 || cancelled.Requeued >= nDNS ||
		cancelled.Remaining != nDNS-cancelled.Requeued || cancelled.FinishedAt == nil {
		t.Fatalf("cancelled job = %+v", cancelled)
	}
	// The rest stay dead, and stay so.
	time.Sleep(300 * time.Millisecond)
	if again := get[api.ReplayJob](t, ta, "/api/dead-letters/replays/"+slow.ID, admin); again.Requeued != cancelled.Requeued {
		t.Errorf("a cancelled job went on: %+v", again)
	}
	waitFor(t, "the cancelled replay's deliveries to arrive", func() bool { return len(archive.Arrivals()) >= n5xx+cancelled.Requeued })
	if counts, _ := reasonCounts(t, ta, admin, ""); counts[webhook.ReasonDNS] != int64(cancelled.Remaining) {
		t.Errorf("dead DNS letters after cancel = %d, want the %d remaining", counts[webhook.ReasonDNS], cancelled.Remaining)
	}

	list := get[api.ReplayList](t, ta, "/api/dead-letters/replays", viewer)
	if len(list.Items) != 2 || list.Items[0].ID != slow.ID || list.Items[1].ID != job.ID {
		t.Errorf("replay list = %+v, want the two jobs newest first", list.Items)
	}
	wantError(t, ta.call(t, request{method: "GET", path: "/api/dead-letters/replays/rpl_nope", token: admin}), http.StatusNotFound, "not_found")
}
