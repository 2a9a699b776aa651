// Package storetest is the conformance suite every store driver must pass.
// New store behaviour is specified here, once, not in one driver's tests:
// a driver's own test file only says how to open a fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Opener returns a fresh, empty store; it registers its own cleanup.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite against the driver.
func Run(t *testing.T, open Opener) {
	tests := map[string]func(t *testing.T, s store.Store){
		"EventInsertAndGet":             testEventInsertAndGet,
		"EventGetNotFound":              testEventGetNotFound,
		"EventIdempotency":              testEventIdempotency,
		"EventInsertConcurrent":         testEventInsertConcurrent,
		"ClaimDueOnly":                  testClaimDueOnly,
		"ClaimLeaseHidesAndExpires":     testClaimLease,
		"ClaimQuotasAndLimit":           testClaimQuotas,
		"ClaimBacklogIsolation":         testClaimBacklogIsolation,
		"ClaimOthers":                   testClaimOthers,
		"RecordSuccessAndFailure":       testRecord,
		"RecordStaleLeaseKeepsDelivery": testRecordStale,
		"EventStatusDerived":            testEventStatusDerived,
		"ReleaseLeases":                 testRelease,
		"QueueStats":                    testQueueStats,
		"Settings":                      testSettings,
		"ReleaseAllLeases":              testReleaseAll,
		"WriteAfterClose":               testWriteAfterClose,
		"LeaseByID":                     testLeaseByID,
		"ListWaiting":                   testListWaiting,
	}
	for _, more := range []map[string]func(t *testing.T, s store.Store){
		manageTests(), stateTests(), dataTests(), deadLetterTests(), compressTests(), orderingTests(),
	} {
		maps.Copy(tests, more)
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)

// newEvent returns an event with one pending delivery per destination,
// due at base.
func newEvent(source string, destinations ...string) store.EventInsertParams {
	ev := webhook.Event{
		ID: ids.New(ids.Event), Source: source, Type: "test.event",
		Body: []byte(`{"hello":"world"}`), ContentType: "application/json",
		Headers: map[string]string{"X-Test": "1"}, ReceivedAt: base, Status: webhook.StatusPending,
	}
	p := store.EventInsertParams{Event: ev}
	for _, d := range destinations {
		p.Deliveries = append(p.Deliveries, webhook.Delivery{
			ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: d,
			Status: webhook.StatusPending, NextAttemptAt: base, CreatedAt: base,
		})
	}
	if len(destinations) == 0 {
		p.Event.Status = webhook.StatusSuccess
	}
	return p
}

func insert(t *testing.T, s store.Store, params ...store.EventInsertParams) []store.EventInsertResult {
	t.Helper()
	res, err := s.EventInsertMany(context.Background(), params)
	if err != nil {
		t.Fatalf("EventInsertMany: %v", err)
	}
	if len(res) != len(params) {
		t.Fatalf("EventInsertMany: %d results for %d params", len(res), len(params))
	}
	return res
}

func claim(t *testing.T, s store.Store, now time.Time, limit int, quotas ...store.DestinationQuota) store.DeliveryClaimResult {
	t.Helper()
	res, err := s.DeliveryClaimDue(context.Background(), store.DeliveryClaimParams{
		Now: now, LeaseUntil: now.Add(time.Minute), LeaseToken: ids.New("lease_"), Limit: limit, Quotas: quotas,
	})
	if err != nil {
		t.Fatalf("DeliveryClaimDue: %v", err)
	}
	return res
}

func quota(dest string, n int) store.DestinationQuota {
	return store.DestinationQuota{Destination: dest, Limit: n}
}

func claimWithToken(t *testing.T, s store.Store, now time.Time, token string, quotas ...store.DestinationQuota) store.DeliveryClaimResult {
	t.Helper()
	res, err := s.DeliveryClaimDue(context.Background(), store.DeliveryClaimParams{
		Now: now, LeaseUntil: now.Add(time.Minute), LeaseToken: token, Limit: 100, Quotas: quotas,
	})
	if err != nil {
		t.Fatalf("DeliveryClaimDue: %v", err)
	}
	return res
}

// record stores one attempt's outcome and checks that the event status the
// store returns is the one it stored.
func record(t *testing.T, s store.Store, job webhook.Job, token string, status webhook.Status, next time.Time) {
	t.Helper()
	statuses, err := s.DeliveryRecordAttempts(context.Background(), []store.AttemptRecordParams{{
		Attempt: webhook.Attempt{
			ID: ids.New(ids.Attempt), DeliveryID: job.Delivery.ID, Number: job.Delivery.Attempts + 1,
			StartedAt: base, Duration: 1500 * time.Microsecond, StatusCode: 500,
			ResponseBody: []byte("nope"), Error: "HTTP 500",
		},
		EventID: job.Event.ID, LeaseToken: token, Status: status, NextAttemptAt: next, UpdatedAt: base,
	}})
	if err != nil {
		t.Fatalf("DeliveryRecordAttempts: %v", err)
	}
	if len(statuses) != 1 || statuses[0] != eventStatus(t, s, job.Event.ID) {
		t.Fatalf("DeliveryRecordAttempts returned %v, stored event status %s", statuses, eventStatus(t, s, job.Event.ID))
	}
}

func delivery(t *testing.T, s store.Store, eventID, deliveryID string) webhook.Delivery {
	t.Helper()
	ds, err := s.DeliveryListByEvent(context.Background(), eventID)
	if err != nil {
		t.Fatalf("DeliveryListByEvent: %v", err)
	}
	for _, d := range ds {
		if d.ID == deliveryID {
			return d
		}
	}
	t.Fatalf("delivery %s of event %s not found", deliveryID, eventID)
	return webhook.Delivery{}
}

func eventStatus(t *testing.T, s store.Store, id string) webhook.Status {
	t.Helper()
	ev, err := s.EventGet(context.Background(), id)
	if err != nil {
		t.Fatalf("EventGet: %v", err)
	}
	return ev.Status
}

func testEventInsertAndGet(t *testing.T, s store.Store) {
	p := newEvent("github", "a", "b")
	p.Event.Body = []byte{0, 1, 2, 0xff, 'x'} // not UTF-8, not JSON
	p.Event.ContentType = "application/octet-stream"
	p.Event.IdempotencyKey = "key-1"
	res := insert(t, s, p)
	if res[0].ID != p.Event.ID || res[0].Duplicate || res[0].Status != webhook.StatusPending {
		t.Fatalf("result = %+v", res[0])
	}
	got, err := s.EventGet(context.Background(), p.Event.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body, p.Event.Body) || got.Source != "github" || got.Type != "test.event" ||
		got.ContentType != p.Event.ContentType || got.Headers["X-Test"] != "1" || got.IdempotencyKey != "key-1" ||
		!got.ReceivedAt.Equal(base) || got.Status != webhook.StatusPending {
		t.Fatalf("EventGet = %+v", got)
	}
	ds, err := s.DeliveryListByEvent(context.Background(), p.Event.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("deliveries = %d, want 2", len(ds))
	}
	for _, d := range ds {
		if d.Status != webhook.StatusPending || d.Attempts != 0 || !d.NextAttemptAt.Equal(base) {
			t.Fatalf("delivery = %+v", d)
		}
	}
	empty := newEvent("github")
	empty.Event.Body = nil
	insert(t, s, empty)
	got, err = s.EventGet(context.Background(), empty.Event.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Body) != 0 || got.Status != webhook.StatusSuccess {
		t.Fatalf("event without body or deliveries = %+v", got)
	}
}

func testEventGetNotFound(t *testing.T, s store.Store) {
	_, err := s.EventGet(context.Background(), "evt_missing")
	if !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("EventGet(missing) = %v, want ErrNotFound", err)
	}
	_, err = s.SettingGet(context.Background(), "missing")
	if !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("SettingGet(missing) = %v, want ErrNotFound", err)
	}
}

func testEventIdempotency(t *testing.T, s store.Store) {
	first := newEvent("github", "a")
	first.Event.IdempotencyKey = "delivery-1"
	insert(t, s, first)

	again := newEvent("github", "a")
	again.Event.IdempotencyKey = "delivery-1"
	other := newEvent("stripe", "a") // same key, other source: a different event
	other.Event.IdempotencyKey = "delivery-1"
	sameBatch1 := newEvent("github", "a")
	sameBatch1.Event.IdempotencyKey = "delivery-2"
	sameBatch2 := newEvent("github", "a")
	sameBatch2.Event.IdempotencyKey = "delivery-2"
	noKey1, noKey2 := newEvent("github", "a"), newEvent("github", "a")
	res := insert(t, s, again, other, sameBatch1, sameBatch2, noKey1, noKey2)

	want := []struct {
		id  string
		dup bool
	}{
		{first.Event.ID, true}, {other.Event.ID, false},
		{sameBatch1.Event.ID, false}, {sameBatch1.Event.ID, true},
		{noKey1.Event.ID, false}, {noKey2.Event.ID, false},
	}
	for i, w := range want {
		if res[i].ID != w.id || res[i].Duplicate != w.dup {
			t.Errorf("result %d = %+v, want id %s duplicate %v", i, res[i], w.id, w.dup)
		}
	}
	if _, err := s.EventGet(context.Background(), again.Event.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("duplicate event was stored: %v", err)
	}
	if ds, err := s.DeliveryListByEvent(context.Background(), first.Event.ID); err != nil || len(ds) != 1 {
		t.Errorf("deliveries of the first event = %d, %v; want 1", len(ds), err)
	}
	if c := claim(t, s, base, 100, quota("a", 100)); len(c.Jobs) != 5 {
		t.Errorf("claimable deliveries = %d, want 5 (duplicates add none)", len(c.Jobs))
	}
}

func testEventInsertConcurrent(t *testing.T, s store.Store) {
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := newEvent("github", "a")
				p.Event.IdempotencyKey = fmt.Sprintf("k-%d", i) // shared across workers
				if _, err := s.EventInsertMany(context.Background(), []store.EventInsertParams{p}); err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if c := claim(t, s, base, 1000, quota("a", 1000)); len(c.Jobs) != each {
		t.Fatalf("stored %d events, want %d (one per key)", len(c.Jobs), each)
	}
}

func testClaimDueOnly(t *testing.T, s store.Store) {
	now := newEvent("github", "a")
	later := newEvent("github", "a")
	later.Deliveries[0].NextAttemptAt = base.Add(time.Hour)
	insert(t, s, later, now)
	res := claimWithToken(t, s, base, "first", quota("a", 10))
	if len(res.Jobs) != 1 || res.Jobs[0].Delivery.ID != now.Deliveries[0].ID {
		t.Fatalf("claimed %+v, want only the due delivery", res.Jobs)
	}
	job := res.Jobs[0]
	if !bytes.Equal(job.Event.Body, now.Event.Body) || job.Event.ContentType != "application/json" || job.Event.ID != now.Event.ID {
		t.Fatalf("job event = %+v", job.Event)
	}
	if !res.NextDueAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("NextDueAt = %v, want %v", res.NextDueAt, base.Add(time.Hour))
	}
	record(t, s, job, "first", webhook.StatusSuccess, time.Time{})
	if res := claim(t, s, base.Add(time.Hour), 10, quota("a", 10)); len(res.Jobs) != 1 || res.Jobs[0].Delivery.ID != later.Deliveries[0].ID {
		t.Fatalf("at its due time claimed %+v", res.Jobs)
	}
}

func testClaimLease(t *testing.T, s store.Store) {
	p := newEvent("github", "a")
	insert(t, s, p)
	first := claim(t, s, base, 10, quota("a", 10))
	if len(first.Jobs) != 1 {
		t.Fatalf("claimed %d, want 1", len(first.Jobs))
	}
	if again := claim(t, s, base.Add(59*time.Second), 10, quota("a", 10)); len(again.Jobs) != 0 {
		t.Fatalf("leased delivery claimed again before the lease ran out")
	}
	// The claimer died: after the lease the delivery comes due again.
	if again := claim(t, s, base.Add(61*time.Second), 10, quota("a", 10)); len(again.Jobs) != 1 {
		t.Fatalf("delivery not claimable after its lease ran out")
	}
}

func testClaimQuotas(t *testing.T, s store.Store) {
	var params []store.EventInsertParams
	for range 5 {
		params = append(params, newEvent("github", "a", "b"))
	}
	insert(t, s, params...)
	res := claim(t, s, base, 10, quota("a", 2), quota("b", 3))
	count := map[string]int{}
	for _, j := range res.Jobs {
		count[j.Delivery.Destination]++
	}
	if count["a"] != 2 || count["b"] != 3 {
		t.Fatalf("claimed %v, want a:2 b:3", count)
	}
	if res := claim(t, s, base, 4, quota("a", 10), quota("b", 10)); len(res.Jobs) != 4 {
		t.Fatalf("claimed %d, want the limit 4", len(res.Jobs))
	}
	if res := claim(t, s, base, 10, quota("b", 10)); len(res.Jobs) != 0 && res.Jobs[0].Delivery.Destination != "b" {
		t.Fatalf("claimed a destination without a quota")
	}
	// Oldest due first.
	s2 := newEvent("github", "c")
	s2.Deliveries[0].NextAttemptAt = base.Add(-time.Minute)
	s1 := newEvent("github", "c")
	s1.Deliveries[0].NextAttemptAt = base.Add(-2 * time.Minute)
	insert(t, s, s2, s1)
	if res := claim(t, s, base, 1, quota("c", 1)); len(res.Jobs) != 1 || res.Jobs[0].Delivery.ID != s1.Deliveries[0].ID {
		t.Fatalf("did not claim the oldest due first: %+v", res.Jobs)
	}
}

func testClaimBacklogIsolation(t *testing.T, s store.Store) {
	var params []store.EventInsertParams
	for range 300 {
		params = append(params, newEvent("github", "stuck"))
	}
	late := newEvent("github", "healthy")
	late.Deliveries[0].NextAttemptAt = base.Add(time.Second)
	params = append(params, late)
	insert(t, s, params...)
	// The stuck destination is at capacity (no quota): the healthy one's
	// delivery, due after 300 others, is claimed at once.
	res := claim(t, s, base.Add(time.Second), 10, quota("healthy", 10))
	if len(res.Jobs) != 1 || res.Jobs[0].Delivery.Destination != "healthy" {
		t.Fatalf("claimed %d jobs, want the healthy destination's one", len(res.Jobs))
	}
}

func testClaimOthers(t *testing.T, s store.Store) {
	insert(t, s, newEvent("github", "removed"), newEvent("github", "kept"))
	res, err := s.DeliveryClaimDue(context.Background(), store.DeliveryClaimParams{
		Now: base, LeaseUntil: base.Add(time.Minute), LeaseToken: "t", Limit: 10,
		Quotas: []store.DestinationQuota{quota("kept", 0)}, Others: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Jobs) != 1 || res.Jobs[0].Delivery.Destination != "removed" {
		t.Fatalf("Others claimed %+v, want the removed destination's delivery only", res.Jobs)
	}
}

func testRecord(t *testing.T, s store.Store) {
	p := newEvent("github", "a", "b")
	insert(t, s, p)
	const token = "lease-1"
	res := claimWithToken(t, s, base, token, quota("a", 10), quota("b", 10))
	if len(res.Jobs) != 2 {
		t.Fatalf("claimed %d, want 2", len(res.Jobs))
	}
	jobs := map[string]webhook.Job{}
	for _, j := range res.Jobs {
		jobs[j.Delivery.Destination] = j
	}
	next := base.Add(5 * time.Second)
	record(t, s, jobs["a"], token, webhook.StatusSuccess, time.Time{})
	record(t, s, jobs["b"], token, webhook.StatusFailed, next)

	a := delivery(t, s, p.Event.ID, jobs["a"].Delivery.ID)
	if a.Status != webhook.StatusSuccess || a.Attempts != 1 {
		t.Fatalf("delivery a = %+v", a)
	}
	b := delivery(t, s, p.Event.ID, jobs["b"].Delivery.ID)
	if b.Status != webhook.StatusFailed || b.Attempts != 1 || !b.NextAttemptAt.Equal(next) || b.LastError != "HTTP 500" {
		t.Fatalf("delivery b = %+v", b)
	}
	attempts, err := s.AttemptListByDelivery(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 1 || attempts[0].Number != 1 || attempts[0].StatusCode != 500 || string(attempts[0].ResponseBody) != "nope" ||
		attempts[0].Error != "HTTP 500" || attempts[0].Duration != 1500*time.Microsecond || !attempts[0].StartedAt.Equal(base) {
		t.Fatalf("attempts = %+v", attempts)
	}
	if st := eventStatus(t, s, p.Event.ID); st != webhook.StatusFailed {
		t.Fatalf("event status = %s, want failed", st)
	}
	// The retry is due at next, not before; then it succeeds.
	if res := claim(t, s, next.Add(-time.Millisecond), 10, quota("b", 10)); len(res.Jobs) != 0 {
		t.Fatalf("retry claimed before it was due")
	}
	res = claimWithToken(t, s, next, "lease-2", quota("b", 10))
	if len(res.Jobs) != 1 || res.Jobs[0].Delivery.Attempts != 1 {
		t.Fatalf("retry claim = %+v", res.Jobs)
	}
	record(t, s, res.Jobs[0], "lease-2", webhook.StatusSuccess, time.Time{})
	if st := eventStatus(t, s, p.Event.ID); st != webhook.StatusSuccess {
		t.Fatalf("event status = %s, want success", st)
	}
	if res := claim(t, s, next.Add(time.Hour), 10, quota("a", 10), quota("b", 10)); len(res.Jobs) != 0 {
		t.Fatalf("delivered deliveries claimed again: %+v", res.Jobs)
	}
}

func testRecordStale(t *testing.T, s store.Store) {
	p := newEvent("github", "a")
	insert(t, s, p)
	old := claimWithToken(t, s, base, "old", quota("a", 1))
	// The lease runs out and another claimer takes the delivery.
	claimWithToken(t, s, base.Add(2*time.Minute), "new", quota("a", 1))
	record(t, s, old.Jobs[0], "old", webhook.StatusPermanentFailure, time.Time{})
	d := delivery(t, s, p.Event.ID, p.Deliveries[0].ID)
	if d.Status != webhook.StatusPending {
		t.Fatalf("stale result changed the delivery: %+v", d)
	}
	attempts, err := s.AttemptListByDelivery(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 1 {
		t.Fatalf("the stale attempt happened and must be kept: %d attempts", len(attempts))
	}
}

// testEventStatusDerived records every combination of outcomes for an
// event with three deliveries and checks that the stored event status is
// what webhook.DeriveEventStatus says, so a driver that derives it in its
// own query language cannot drift from the rule.
func testEventStatusDerived(t *testing.T, s store.Store) {
	statuses := []webhook.Status{webhook.StatusPending, webhook.StatusSuccess, webhook.StatusFailed, webhook.StatusPermanentFailure}
	for i := range len(statuses) * len(statuses) * len(statuses) {
		outcomes := []webhook.Status{statuses[i%4], statuses[i/4%4], statuses[i/16%4]}
		dests := []string{fmt.Sprintf("d%d-0", i), fmt.Sprintf("d%d-1", i), fmt.Sprintf("d%d-2", i)}
		p := newEvent("github", dests...)
		insert(t, s, p)
		token := fmt.Sprintf("lease-%d", i)
		res := claimWithToken(t, s, base, token, quota(dests[0], 1), quota(dests[1], 1), quota(dests[2], 1))
		counts := map[webhook.Status]int{}
		for _, j := range res.Jobs {
			for k, d := range dests {
				if j.Delivery.Destination == d {
					record(t, s, j, token, outcomes[k], base.Add(time.Minute))
					counts[outcomes[k]]++
				}
			}
		}
		if want, got := webhook.DeriveEventStatus(counts), eventStatus(t, s, p.Event.ID); got != want {
			t.Errorf("deliveries %v: event status = %s, want %s", outcomes, got, want)
		}
	}
}

func testRelease(t *testing.T, s store.Store) {
	p := newEvent("github", "a")
	insert(t, s, p)
	claimWithToken(t, s, base, "mine", quota("a", 1))
	release := func(token string) {
		t.Helper()
		err := s.DeliveryReleaseLeases(context.Background(), []store.LeaseReleaseParams{{DeliveryID: p.Deliveries[0].ID, LeaseToken: token, DueAt: base}})
		if err != nil {
			t.Fatal(err)
		}
	}
	release("not-mine")
	if res := claim(t, s, base, 1, quota("a", 1)); len(res.Jobs) != 0 {
		t.Fatalf("release with a wrong token freed the delivery")
	}
	release("mine")
	res := claim(t, s, base, 1, quota("a", 1))
	if len(res.Jobs) != 1 || res.Jobs[0].Delivery.Attempts != 0 {
		t.Fatalf("released delivery = %+v; want claimable with no attempt counted", res.Jobs)
	}
}

func testQueueStats(t *testing.T, s store.Store) {
	due, later, leased, dead := newEvent("github", "a"), newEvent("github", "a"), newEvent("github", "b"), newEvent("github", "c")
	later.Deliveries[0].NextAttemptAt = base.Add(time.Hour)
	insert(t, s, due, later, leased, dead)
	claimWithToken(t, s, base, "t", quota("b", 1))
	res := claimWithToken(t, s, base, "t2", quota("c", 1))
	record(t, s, res.Jobs[0], "t2", webhook.StatusPermanentFailure, time.Time{})
	st, err := s.QueueStats(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	want := store.QueueStats{Ready: 1, Scheduled: 1, InFlight: 1, Dead: 1}
	if st != want {
		t.Fatalf("QueueStats = %+v, want %+v", st, want)
	}
}

func testSettings(t *testing.T, s store.Store) {
	ctx := context.Background()
	v, err := s.SettingPutIfAbsent(ctx, "k", "first")
	if err != nil || v != "first" {
		t.Fatalf("first put = %q, %v", v, err)
	}
	v, err = s.SettingPutIfAbsent(ctx, "k", "second")
	if err != nil || v != "first" {
		t.Fatalf("second put = %q, %v; want the first value kept", v, err)
	}
	v, err = s.SettingGet(ctx, "k")
	if err != nil || v != "first" {
		t.Fatalf("get = %q, %v", v, err)
	}
}

func testReleaseAll(t *testing.T, s store.Store) {
	ex, ok := s.(store.Exclusive)
	if !ok {
		t.Skip("driver is shared between processes; leases run out instead")
	}
	insert(t, s, newEvent("github", "a"), newEvent("github", "a"))
	claim(t, s, base, 10, quota("a", 10))
	n, err := ex.DeliveryReleaseAllLeases(context.Background(), base)
	if err != nil || n != 2 {
		t.Fatalf("DeliveryReleaseAllLeases = %d, %v; want 2", n, err)
	}
	if res := claim(t, s, base, 10, quota("a", 10)); len(res.Jobs) != 2 {
		t.Fatalf("claimed %d after release, want 2", len(res.Jobs))
	}
}

func testWriteAfterClose(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := s.EventInsertMany(context.Background(), []store.EventInsertParams{newEvent("github", "a")})
	if !errors.Is(err, webhook.ErrClosed) {
		t.Fatalf("EventInsertMany after Close = %v, want ErrClosed", err)
	}
}

func testLeaseByID(t *testing.T, s store.Store) {
	due, later, held := newEvent("github", "a"), newEvent("github", "a"), newEvent("github", "b")
	later.Deliveries[0].NextAttemptAt = base.Add(time.Hour)
	insert(t, s, due, later, held)
	claimWithToken(t, s, base, "other", quota("b", 1)) // someone else holds it
	ctx := context.Background()
	lease := func(now time.Time, token string, ids ...string) []webhook.Job {
		t.Helper()
		jobs, err := s.DeliveryLeaseByID(ctx, store.DeliveryLeaseByIDParams{IDs: ids, Now: now, LeaseUntil: now.Add(time.Minute), LeaseToken: token})
		if err != nil {
			t.Fatalf("DeliveryLeaseByID: %v", err)
		}
		return jobs
	}
	dueID := due.Deliveries[0].ID
	jobs := lease(base, "mine", dueID, later.Deliveries[0].ID, held.Deliveries[0].ID, "dlv_unknown", dueID)
	if len(jobs) != 1 || jobs[0].Delivery.ID != dueID || jobs[0].Event.ID != due.Event.ID || string(jobs[0].Event.Body) != string(due.Event.Body) {
		t.Fatalf("leased %+v; want only the due, free delivery, once, with its event", jobs)
	}
	if res := claim(t, s, base, 10, quota("a", 10)); len(res.Jobs) != 0 {
		t.Fatalf("a delivery leased by id was claimed again")
	}
	if again := lease(base.Add(30*time.Second), "third", dueID); len(again) != 0 {
		t.Fatalf("a leased delivery was leased again by id")
	}
	// The lease is a real one: its token records the outcome.
	record(t, s, jobs[0], "mine", webhook.StatusSuccess, time.Time{})
	if d := delivery(t, s, due.Event.ID, dueID); d.Status != webhook.StatusSuccess {
		t.Fatalf("delivery = %+v after recording with the by-id lease", d)
	}
	if none := lease(base.Add(2*time.Hour), "late", dueID); len(none) != 0 {
		t.Fatalf("a delivered delivery was leased")
	}
	if got := lease(base.Add(2*time.Hour), "late", later.Deliveries[0].ID); len(got) != 1 {
		t.Fatalf("the scheduled delivery was not leased once due: %+v", got)
	}
}

func testListWaiting(t *testing.T, s store.Store) {
	var all []store.EventInsertParams
	for range 5 {
		all = append(all, newEvent("github", "a"))
	}
	insert(t, s, all...)
	held := claimWithToken(t, s, base, "held", quota("a", 1)).Jobs[0].Delivery.ID
	ctx := context.Background()
	var got []string
	after := ""
	for {
		page, err := s.DeliveryListWaiting(ctx, store.DeliveryListWaitingParams{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, d := range page {
			got = append(got, d.ID)
			if d.Status != webhook.StatusPending || d.Destination != "a" {
				t.Fatalf("waiting delivery = %+v", d)
			}
			// A leased delivery is listed due when its lease runs out, so
			// that a queue rebuilt from this list offers it again if its
			// holder dies.
			if d.ID == held && !d.NextAttemptAt.Equal(base.Add(time.Minute)) {
				t.Fatalf("leased delivery listed due at %v; want its lease end %v", d.NextAttemptAt, base.Add(time.Minute))
			}
		}
		after = page[len(page)-1].ID
	}
	if len(got) != 5 {
		t.Fatalf("listed %d waiting deliveries, want 5 (one of them leased)", len(got))
	}
}
