package mongo

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/mongotest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// TestLeaseAfterConcurrentRecord checks that a claim whose candidates were
// read before another write to the same event (here: the attempt of the
// event's other delivery) does not write back what it read: the recorded
// attempt and its delivery's success must survive the lease. On MongoDB
// the version in the write's filter refuses the stale document; on
// FerretDB, where writes name the document by _id alone, the document has
// to be read again under the per-document lock.
func TestLeaseAfterConcurrentRecord(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(ctx, mongotest.Database(t, "hookd_test"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	now := time.Now().Truncate(time.Microsecond)
	ev := webhook.Event{ID: ids.New(ids.Event), Source: "github", Type: "push", Body: []byte(`{}`),
		ContentType: "application/json", ReceivedAt: now, Status: webhook.StatusPending}
	p := store.EventInsertParams{Event: ev}
	for _, dest := range []string{"a", "b"} {
		p.Deliveries = append(p.Deliveries, webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: dest,
			Status: webhook.StatusPending, NextAttemptAt: now, CreatedAt: now})
	}
	if _, err := s.EventInsertMany(ctx, []store.EventInsertParams{p}); err != nil {
		t.Fatal(err)
	}
	claimA, err := s.DeliveryClaimDue(ctx, store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), LeaseToken: "ta",
		Limit: 1, Quotas: []store.DestinationQuota{{Destination: "a", Limit: 1}}})
	if err != nil || len(claimA.Jobs) != 1 {
		t.Fatalf("claim a: %+v, %v", claimA, err)
	}

	// The claim for b reads its candidates ...
	cands, err := s.findDue(ctx, bson.M{"dl.dest": "b", "due": bson.M{"$lte": tm(now)}}, tm(now), 1,
		func(d *deliveryDoc) bool { return d.Destination == "b" })
	if err != nil || len(cands) != 1 {
		t.Fatalf("findDue b: %d, %v", len(cands), err)
	}
	// ... a's attempt is recorded meanwhile ...
	a := p.Deliveries[0]
	if _, err := s.DeliveryRecordAttempts(ctx, []store.AttemptRecordParams{{
		Attempt: webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: a.ID, Number: 1, StartedAt: now, StatusCode: 200},
		EventID: ev.ID, LeaseToken: "ta", Status: webhook.StatusSuccess, UpdatedAt: now,
	}}); err != nil {
		t.Fatal(err)
	}
	// ... and then the claim leases b.
	jobs, err := s.lease(ctx, cands, tm(now), tm(now.Add(time.Minute)), "tb")
	if err != nil || len(jobs) != 1 || jobs[0].Delivery.ID != p.Deliveries[1].ID {
		t.Fatalf("lease b: %+v, %v", jobs, err)
	}

	ds, err := s.DeliveryListByEvent(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == a.ID && (d.Status != webhook.StatusSuccess || d.Attempts != 1) {
			t.Errorf("delivery a after b's lease: %s after %d attempts; want success after 1 (the lease wrote back a stale document)", d.Status, d.Attempts)
		}
	}
	if atts, err := s.AttemptListByDelivery(ctx, a.ID); err != nil || len(atts) != 1 {
		t.Errorf("attempts of a after b's lease: %d, %v; want 1", len(atts), err)
	}
}
