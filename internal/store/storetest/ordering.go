package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Ordered delivery (docs/ordering.md): an ordered delivery is leased only
// when no earlier delivery of its destination and key is pending or
// failed, leased or not; one blocked key never holds back another, and a
// blocked delivery is parked rather than offered again and again.

func orderingTests() map[string]func(t *testing.T, s store.Store) {
	return map[string]func(t *testing.T, s store.Store){
		"OrderingBlocksSuccessor":    testOrderingBlocksSuccessor,
		"OrderingDeadLetterReleases": testOrderingDeadLetterReleases,
		"OrderingLeaseByID":          testOrderingLeaseByID,
		"OrderingUnorderedUntouched": testOrderingUnorderedUntouched,
	}
}

// orderedEvent is an event with one ordered delivery to dest under key.
func orderedEvent(dest, key string) store.EventInsertParams {
	p := newEvent("github", dest)
	p.Deliveries[0].Ordered, p.Deliveries[0].OrderingKey = true, key
	return p
}

// recordAt stores an attempt's outcome as of now.
func recordAt(t *testing.T, s store.Store, job webhook.Job, token string, status webhook.Status, now, next time.Time) {
	t.Helper()
	_, err := s.DeliveryRecordAttempts(context.Background(), []store.AttemptRecordParams{{
		Attempt: webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: job.Delivery.ID, Number: job.Delivery.Attempts + 1,
			StartedAt: now, Duration: time.Millisecond, StatusCode: 500, Error: "HTTP 500", Reason: webhook.ReasonHTTP5xx},
		EventID: job.Event.ID, LeaseToken: token, Status: status, NextAttemptAt: next, UpdatedAt: now,
	}})
	if err != nil {
		t.Fatalf("DeliveryRecordAttempts: %v", err)
	}
}

func jobIDs(jobs []webhook.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.Delivery.ID
	}
	slices.Sort(out)
	return out
}

func sortedIDs(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func testOrderingBlocksSuccessor(t *testing.T, s store.Store) {
	a1, a2, a3, b1 := orderedEvent("o", "A"), orderedEvent("o", "A"), orderedEvent("o", "A"), orderedEvent("o", "B")
	insert(t, s, a1, a2) // one batch keeps its order
	insert(t, s, a3, b1) // a later batch comes after
	id := func(p store.EventInsertParams) string { return p.Deliveries[0].ID }

	res := claimWithToken(t, s, base, "t1", quota("o", 10))
	if got, want := jobIDs(res.Jobs), sortedIDs(id(a1), id(b1)); !slices.Equal(got, want) {
		t.Fatalf("first claim leased %v; want only each key's first delivery %v", got, want)
	}
	for _, j := range res.Jobs {
		if !j.Delivery.Ordered {
			t.Fatalf("claimed job %s does not say it is ordered", j.Delivery.ID)
		}
		if want := map[string]string{id(a1): "A", id(b1): "B"}[j.Delivery.ID]; j.Delivery.OrderingKey != want {
			t.Fatalf("job %s has key %q, want %q", j.Delivery.ID, j.Delivery.OrderingKey, want)
		}
	}
	// The blocked ones are parked: not offered again while a1 is leased,
	// and the claim does not say they are due now (no spinning).
	again := claimWithToken(t, s, base.Add(time.Second), "t2", quota("o", 10))
	if len(again.Jobs) != 0 {
		t.Fatalf("a successor was leased while its predecessor is leased: %v", jobIDs(again.Jobs))
	}
	if !again.NextDueAt.IsZero() && !again.NextDueAt.After(base.Add(time.Second)) {
		t.Fatalf("NextDueAt = %v: blocked deliveries look due now", again.NextDueAt)
	}
	var a1Job, b1Job webhook.Job
	for _, j := range res.Jobs {
		if j.Delivery.ID == id(a1) {
			a1Job = j
		} else {
			b1Job = j
		}
	}
	// B finishing frees nothing of A.
	recordAt(t, s, b1Job, "t1", webhook.StatusSuccess, base.Add(2*time.Second), time.Time{})
	if res := claimWithToken(t, s, base.Add(2*time.Second), "t3", quota("o", 10)); len(res.Jobs) != 0 {
		t.Fatalf("key B finishing released key A's successor: %v", jobIDs(res.Jobs))
	}
	// a1 fails with a retry scheduled: a2 still waits, a1 keeps its backoff.
	retryAt := base.Add(30 * time.Second)
	recordAt(t, s, a1Job, "t1", webhook.StatusFailed, base.Add(3*time.Second), retryAt)
	if res := claimWithToken(t, s, base.Add(4*time.Second), "t4", quota("o", 10)); len(res.Jobs) != 0 {
		t.Fatalf("claimed %v while key A's first delivery waits for its retry", jobIDs(res.Jobs))
	}
	// Past the parking time nothing of A comes out of order either.
	late := base.Add(2 * time.Minute)
	res = claimWithToken(t, s, late, "t5", quota("o", 10))
	if got := jobIDs(res.Jobs); !slices.Equal(got, []string{id(a1)}) {
		t.Fatalf("claim after the retry is due leased %v; want only %s", got, id(a1))
	}
	// a1 succeeds: a2 is due at once (not at its parking time), a3 still waits.
	recordAt(t, s, res.Jobs[0], "t5", webhook.StatusSuccess, late.Add(time.Second), time.Time{})
	res = claimWithToken(t, s, late.Add(time.Second), "t6", quota("o", 10))
	if got := jobIDs(res.Jobs); !slices.Equal(got, []string{id(a2)}) {
		t.Fatalf("after the first succeeded the claim leased %v; want only %s", got, id(a2))
	}
	recordAt(t, s, res.Jobs[0], "t6", webhook.StatusSuccess, late.Add(2*time.Second), time.Time{})
	res = claimWithToken(t, s, late.Add(2*time.Second), "t7", quota("o", 10))
	if got := jobIDs(res.Jobs); !slices.Equal(got, []string{id(a3)}) {
		t.Fatalf("after the second succeeded the claim leased %v; want only %s", got, id(a3))
	}
}

func testOrderingDeadLetterReleases(t *testing.T, s store.Store) {
	a1, a2 := orderedEvent("o", ""), orderedEvent("o", "")
	insert(t, s, a1, a2)
	res := claimWithToken(t, s, base, "t1", quota("o", 10))
	if got := jobIDs(res.Jobs); !slices.Equal(got, []string{a1.Deliveries[0].ID}) {
		t.Fatalf("leased %v; want only the first", got)
	}
	now := base.Add(time.Second)
	recordAt(t, s, res.Jobs[0], "t1", webhook.StatusPermanentFailure, now, time.Time{})
	res = claimWithToken(t, s, now, "t2", quota("o", 10))
	if got := jobIDs(res.Jobs); !slices.Equal(got, []string{a2.Deliveries[0].ID}) {
		t.Fatalf("after a dead letter the claim leased %v; want the next one", got)
	}
}

func testOrderingLeaseByID(t *testing.T, s store.Store) {
	a1, a2, b1 := orderedEvent("o", "A"), orderedEvent("o", "A"), orderedEvent("o", "B")
	insert(t, s, a1, a2, b1)
	ctx := context.Background()
	lease := func(now time.Time, token string, ids ...string) store.DeliveryLeaseByIDResult {
		t.Helper()
		res, err := s.DeliveryLeaseByIDBlocked(ctx, store.DeliveryLeaseByIDParams{IDs: ids, Now: now, LeaseUntil: now.Add(time.Minute), LeaseToken: token})
		if err != nil {
			t.Fatalf("DeliveryLeaseByIDBlocked: %v", err)
		}
		return res
	}
	res := lease(base, "t1", a2.Deliveries[0].ID, a1.Deliveries[0].ID, b1.Deliveries[0].ID)
	if got, want := jobIDs(res.Jobs), sortedIDs(a1.Deliveries[0].ID, b1.Deliveries[0].ID); !slices.Equal(got, want) {
		t.Fatalf("leased %v; want %v", got, want)
	}
	if len(res.Blocked) != 1 {
		t.Fatalf("blocked %+v; want the second of key A", res.Blocked)
	}
	bl := res.Blocked[0]
	if bl.ID != a2.Deliveries[0].ID || bl.After != a1.Deliveries[0].ID || bl.Destination != "o" || bl.Until.Before(base.Add(time.Minute)) {
		t.Fatalf("blocked %+v; want %s after %s on o, parked until at least the lease's end", bl, a2.Deliveries[0].ID, a1.Deliveries[0].ID)
	}
	// Parked: not due, so a second try is refused as not due, not blocked.
	if again := lease(base.Add(time.Second), "t2", a2.Deliveries[0].ID); len(again.Jobs) != 0 {
		t.Fatalf("a parked delivery was leased")
	}
	var a1Job webhook.Job
	for _, j := range res.Jobs {
		if j.Delivery.ID == a1.Deliveries[0].ID {
			a1Job = j
		}
	}
	now := base.Add(2 * time.Second)
	recordAt(t, s, a1Job, "t1", webhook.StatusSuccess, now, time.Time{})
	if again := lease(now, "t3", a2.Deliveries[0].ID); len(again.Jobs) != 1 || len(again.Blocked) != 0 {
		t.Fatalf("after its predecessor succeeded: leased %v, blocked %+v; want it leased", jobIDs(again.Jobs), again.Blocked)
	}
}

func testOrderingUnorderedUntouched(t *testing.T, s store.Store) {
	// Unordered deliveries of the same destination are not held back by
	// ordered ones, nor by each other.
	a1, a2 := orderedEvent("o", "A"), orderedEvent("o", "A")
	u1, u2 := newEvent("github", "o"), newEvent("github", "o")
	insert(t, s, a1, a2, u1, u2)
	res := claimWithToken(t, s, base, "t1", quota("o", 10))
	want := sortedIDs(a1.Deliveries[0].ID, u1.Deliveries[0].ID, u2.Deliveries[0].ID)
	if got := jobIDs(res.Jobs); !slices.Equal(got, want) {
		t.Fatalf("leased %v; want %v", got, want)
	}
	for _, j := range res.Jobs {
		if j.Delivery.ID != a1.Deliveries[0].ID && j.Delivery.Ordered {
			t.Fatalf("unordered job %s says it is ordered", j.Delivery.ID)
		}
	}
}
