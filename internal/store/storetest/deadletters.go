package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// deadLetterTests specify failure reasons and the paged requeue of dead
// letters that bulk replay is built on.
func deadLetterTests() map[string]func(t *testing.T, s store.Store) {
	return map[string]func(t *testing.T, s store.Store){
		"FailureReasonsRecorded":  testFailureReasonsRecorded,
		"DeadCountByReason":       testDeadCountByReason,
		"RequeueDeadBatchPages":   testRequeueDeadBatchPages,
		"RequeueDeadBySelection":  testRequeueDeadBySelection,
		"RequeueDeadBatchFilters": testRequeueDeadBatchFilters,
		"ReasonsExportAndImport":  testReasonsExportAndImport,
	}
}

// leaseOne leases p's first delivery at now and returns the lease token;
// other deliveries the claim takes are handed back untouched.
func leaseOne(t *testing.T, s store.Store, p store.EventInsertParams, now time.Time) string {
	t.Helper()
	token := ids.New("lease_")
	d := p.Deliveries[0]
	res := claimWithToken(t, s, now, token, quota(d.Destination, 100))
	found := false
	for _, j := range res.Jobs {
		if j.Delivery.ID == d.ID {
			found = true
			continue
		}
		if err := s.DeliveryReleaseLeases(context.Background(), []store.LeaseReleaseParams{{DeliveryID: j.Delivery.ID, LeaseToken: token, DueAt: j.Delivery.NextAttemptAt}}); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("delivery %s not claimable at %s", d.ID, now)
	}
	return token
}

// deadWithReason stores an event whose single delivery to dest died of
// reason at dead, and returns it.
func deadWithReason(t *testing.T, s store.Store, source, dest string, reason webhook.FailureReason, dead time.Time) store.EventInsertParams {
	t.Helper()
	p := newEvent(source, dest)
	insert(t, s, p)
	token := leaseOne(t, s, p, base)
	_, err := s.DeliveryRecordAttempts(context.Background(), []store.AttemptRecordParams{{
		Attempt: webhook.Attempt{
			ID: ids.New(ids.Attempt), DeliveryID: p.Deliveries[0].ID, Number: 1, StartedAt: dead,
			Duration: time.Millisecond, Error: "failed: " + string(reason), Reason: reason,
		},
		EventID: p.Event.ID, LeaseToken: token, Status: webhook.StatusPermanentFailure, UpdatedAt: dead,
	}})
	if err != nil {
		t.Fatalf("DeliveryRecordAttempts: %v", err)
	}
	return p
}

func countsOf(t *testing.T, s store.Store, p store.DeliveryCountDeadParams) map[webhook.FailureReason]int64 {
	t.Helper()
	counts, err := s.DeliveryCountDeadByReason(context.Background(), p)
	if err != nil {
		t.Fatalf("DeliveryCountDeadByReason: %v", err)
	}
	out := map[webhook.FailureReason]int64{}
	for _, c := range counts {
		if c.Count <= 0 {
			t.Fatalf("reason %q listed with count %d", c.Reason, c.Count)
		}
		out[c.Reason] = c.Count
	}
	return out
}

func testFailureReasonsRecorded(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := newEvent("github", "a")
	insert(t, s, p)
	token := leaseOne(t, s, p, base)
	// A retryable failure, then (after the retry is due) a success.
	_, err := s.DeliveryRecordAttempts(ctx, []store.AttemptRecordParams{{
		Attempt: webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: p.Deliveries[0].ID, Number: 1, StartedAt: base,
			StatusCode: 503, Error: "HTTP 503", Reason: webhook.ReasonHTTP5xx},
		EventID: p.Event.ID, LeaseToken: token, Status: webhook.StatusFailed, NextAttemptAt: base.Add(time.Second), UpdatedAt: base,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if d := delivery(t, s, p.Event.ID, p.Deliveries[0].ID); d.LastReason != webhook.ReasonHTTP5xx {
		t.Fatalf("delivery last reason = %q, want http_5xx", d.LastReason)
	}
	later := base.Add(2 * time.Second)
	token = leaseOne(t, s, p, later)
	_, err = s.DeliveryRecordAttempts(ctx, []store.AttemptRecordParams{{
		Attempt: webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: p.Deliveries[0].ID, Number: 2, StartedAt: later, StatusCode: 200},
		EventID: p.Event.ID, LeaseToken: token, Status: webhook.StatusSuccess, UpdatedAt: later,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if d := delivery(t, s, p.Event.ID, p.Deliveries[0].ID); d.LastReason != webhook.ReasonNone {
		t.Fatalf("delivery last reason after success = %q, want none", d.LastReason)
	}
	attempts, err := s.AttemptListByDelivery(ctx, p.Deliveries[0].ID)
	if err != nil || len(attempts) != 2 {
		t.Fatalf("attempts = %d, %v", len(attempts), err)
	}
	if attempts[0].Reason != webhook.ReasonHTTP5xx || attempts[1].Reason != webhook.ReasonNone {
		t.Fatalf("attempt reasons = %q, %q", attempts[0].Reason, attempts[1].Reason)
	}
}

func testDeadCountByReason(t *testing.T, s store.Store) {
	deadWithReason(t, s, "github", "x", webhook.ReasonDNS, base)
	deadWithReason(t, s, "github", "x", webhook.ReasonDNS, base)
	deadWithReason(t, s, "github", "y", webhook.ReasonHTTP5xx, base)
	deadWithReason(t, s, "stripe", "x", webhook.ReasonTimeout, base)
	insert(t, s, newEvent("github", "x")) // pending: not counted
	tests := []struct {
		name string
		p    store.DeliveryCountDeadParams
		want map[webhook.FailureReason]int64
	}{
		{"all", store.DeliveryCountDeadParams{}, map[webhook.FailureReason]int64{webhook.ReasonDNS: 2, webhook.ReasonHTTP5xx: 1, webhook.ReasonTimeout: 1}},
		{"source", store.DeliveryCountDeadParams{Source: "github"}, map[webhook.FailureReason]int64{webhook.ReasonDNS: 2, webhook.ReasonHTTP5xx: 1}},
		{"destination", store.DeliveryCountDeadParams{Destination: "x"}, map[webhook.FailureReason]int64{webhook.ReasonDNS: 2, webhook.ReasonTimeout: 1}},
		{"time window before", store.DeliveryCountDeadParams{To: base}, map[webhook.FailureReason]int64{}},
		{"time window around", store.DeliveryCountDeadParams{From: base, To: base.Add(time.Second)}, map[webhook.FailureReason]int64{webhook.ReasonDNS: 2, webhook.ReasonHTTP5xx: 1, webhook.ReasonTimeout: 1}},
		{"unknown source", store.DeliveryCountDeadParams{Source: "nope"}, map[webhook.FailureReason]int64{}},
	}
	for _, tt := range tests {
		if got := countsOf(t, s, tt.p); !mapsEqual(got, tt.want) {
			t.Errorf("%s: counts = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func mapsEqual(a, b map[webhook.FailureReason]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func testRequeueDeadBatchPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	var want []string
	for range 7 {
		p := deadWithReason(t, s, "github", "x", webhook.ReasonConnectRefused, base)
		want = append(want, p.Deliveries[0].ID)
	}
	slices.Sort(want)
	now := base.Add(time.Hour)
	var got []string
	after := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("paging does not end")
		}
		moved, err := s.DeliveryRequeueDeadBatch(ctx, store.DeliveryRequeueDeadParams{After: after, Limit: 3, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(moved) > 3 {
			t.Fatalf("batch of %d over the limit 3", len(moved))
		}
		if len(moved) == 0 {
			break
		}
		for _, d := range moved {
			if d.EventID == "" || d.Destination != "x" || d.Status != webhook.StatusPending {
				t.Fatalf("moved delivery = %+v", d)
			}
			got = append(got, d.ID)
		}
		after = moved[len(moved)-1].ID
		// What moved is claimable now, with a fresh budget, and its event
		// is no longer dead.
		d := delivery(t, s, moved[0].EventID, moved[0].ID)
		if d.Status != webhook.StatusPending || d.Attempts != 0 || !d.NextAttemptAt.Equal(now) {
			t.Fatalf("requeued = %+v", d)
		}
		if st := eventStatus(t, s, moved[0].EventID); st != webhook.StatusPending {
			t.Fatalf("event status = %s", st)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("requeued %v, want every dead delivery once in id order %v", got, want)
	}
	if st, _ := s.QueueStats(ctx, now); st.Dead != 0 || st.Ready != 7 {
		t.Fatalf("after paging: %+v", st)
	}
}

func testRequeueDeadBySelection(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := deadWithReason(t, s, "github", "x", webhook.ReasonDNS, base)
	b := deadWithReason(t, s, "github", "y", webhook.ReasonDNS, base)
	c := deadWithReason(t, s, "github", "x", webhook.ReasonDNS, base)
	pending := newEvent("github", "x")
	insert(t, s, pending)
	sel := []string{a.Event.ID, b.Event.ID, pending.Event.ID, "evt_unknown"}
	n, err := s.DeliveryRequeueDead(ctx, store.DeliveryRequeueDeadParams{EventIDs: sel, DryRun: true, Now: base})
	if err != nil || n != 2 {
		t.Fatalf("dry run of a selection = %d, %v; want 2", n, err)
	}
	n, err = s.DeliveryRequeueDead(ctx, store.DeliveryRequeueDeadParams{EventIDs: sel, Destination: "y", Now: base})
	if err != nil || n != 1 {
		t.Fatalf("selection and destination y = %d, %v; want 1", n, err)
	}
	n, err = s.DeliveryRequeueDead(ctx, store.DeliveryRequeueDeadParams{EventIDs: sel, Now: base})
	if err != nil || n != 1 {
		t.Fatalf("selection = %d, %v; want 1 (b moved already)", n, err)
	}
	for _, p := range []store.EventInsertParams{a, b} {
		if st := eventStatus(t, s, p.Event.ID); st != webhook.StatusPending {
			t.Fatalf("selected event %s = %s, want pending", p.Event.ID, st)
		}
	}
	if st := eventStatus(t, s, c.Event.ID); st != webhook.StatusPermanentFailure {
		t.Fatalf("unselected event = %s, want permanent_failure", st)
	}
}

func testRequeueDeadBatchFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	dns := deadWithReason(t, s, "github", "x", webhook.ReasonDNS, base)
	http := deadWithReason(t, s, "github", "x", webhook.ReasonHTTP4xx, base)
	late := deadWithReason(t, s, "github", "x", webhook.ReasonDNS, base.Add(time.Minute))
	other := deadWithReason(t, s, "stripe", "x", webhook.ReasonDNS, base)
	now := base.Add(time.Hour)
	n, err := s.DeliveryRequeueDead(ctx, store.DeliveryRequeueDeadParams{Reason: webhook.ReasonDNS, Source: "github", DryRun: true})
	if err != nil || n != 2 {
		t.Fatalf("dry run by reason = %d, %v; want 2", n, err)
	}
	moved, err := s.DeliveryRequeueDeadBatch(ctx, store.DeliveryRequeueDeadParams{
		Reason: webhook.ReasonDNS, Source: "github", DeadBefore: base, Limit: 100, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(moved) != 1 || moved[0].ID != dns.Deliveries[0].ID {
		t.Fatalf("moved %+v, want only the dns delivery dead before the start", moved)
	}
	for _, p := range []store.EventInsertParams{http, late, other} {
		if d := delivery(t, s, p.Event.ID, p.Deliveries[0].ID); d.Status != webhook.StatusPermanentFailure {
			t.Fatalf("delivery outside the filter moved: %+v", d)
		}
	}
	if got := countsOf(t, s, store.DeliveryCountDeadParams{}); !mapsEqual(got, map[webhook.FailureReason]int64{webhook.ReasonDNS: 2, webhook.ReasonHTTP4xx: 1}) {
		t.Fatalf("counts after a filtered batch = %v", got)
	}
}

// testReasonsExportAndImport: an imported record keeps its reasons, an
// export reads them back, and imported dead letters count by them.
func testReasonsExportAndImport(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := eventRecord("github", base, webhook.StatusPermanentFailure, webhook.StatusSuccess)
	r.Deliveries[0].Delivery.LastReason = webhook.ReasonTimeout
	r.Deliveries[0].Attempts[0].Reason = webhook.ReasonTimeout
	r.Deliveries[0].Attempts[0].Error = "timeout after 5s"
	r.Deliveries[1].Attempts[0].StatusCode, r.Deliveries[1].Attempts[0].Error = 200, ""
	if n := importRecords(t, s, r); n != 1 {
		t.Fatalf("imported %d, want 1", n)
	}
	records, err := s.EventRecordList(ctx, store.EventListParams{Limit: 10})
	if err != nil || len(records) != 1 {
		t.Fatalf("EventRecordList = %d records, %v", len(records), err)
	}
	for i, dr := range records[0].Deliveries {
		want := r.Deliveries[i]
		if dr.Delivery.LastReason != want.Delivery.LastReason || len(dr.Attempts) != 1 || dr.Attempts[0].Reason != want.Attempts[0].Reason {
			t.Errorf("delivery %d exported with reason %q (attempts %+v), want %q", i, dr.Delivery.LastReason, dr.Attempts, want.Delivery.LastReason)
		}
	}
	if got := countsOf(t, s, store.DeliveryCountDeadParams{}); !mapsEqual(got, map[webhook.FailureReason]int64{webhook.ReasonTimeout: 1}) {
		t.Errorf("counts after import = %v", got)
	}
}

// BenchRequeueDeadBatch measures one page of a bulk replay: a
// DeliveryRequeueDeadBatch of size dead letters out of 20,000, one
// transaction. ns/op is per batch, which is how long the batch holds the
// store's writer (on SQLite, every other write waits that long).
func BenchRequeueDeadBatch(b *testing.B, open func(b *testing.B) store.Store) {
	const seeded = 20000
	for _, size := range []int{5, 20, 50, 100, 500} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			dead := time.Now().UTC().Add(-time.Minute)
			seed := func() {
				records := make([]store.EventRecord, 0, 1000)
				for range seeded / 1000 {
					records = records[:0]
					for range 1000 {
						r := eventRecord("bench", dead, webhook.StatusPermanentFailure)
						r.Deliveries[0].Delivery.Destination = "bench"
						r.Deliveries[0].Delivery.LastReason = webhook.ReasonHTTP5xx
						records = append(records, r)
					}
					if _, err := s.EventImportMany(ctx, records); err != nil {
						b.Fatal(err)
					}
				}
			}
			seed()
			p := store.DeliveryRequeueDeadParams{Limit: size, DeadBefore: time.Now()}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Now = time.Now()
				moved, err := s.DeliveryRequeueDeadBatch(ctx, p)
				if err != nil {
					b.Fatal(err)
				}
				if len(moved) < size { // all moved: seed again, untimed
					b.StopTimer()
					p.After = ""
					seed()
					p.DeadBefore = time.Now()
					b.StartTimer()
					continue
				}
				p.After = moved[len(moved)-1].ID
			}
		})
	}
}
