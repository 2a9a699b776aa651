package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// BodyCompressor is how a driver is told to store large bodies
// compressed (HOOKD_COMPRESS_OVER); every driver implements it.
type BodyCompressor interface {
	SetBodyCompression(over int)
}

func compressTests() map[string]func(t *testing.T, s store.Store) {
	return map[string]func(t *testing.T, s store.Store){
		"CompressedBodies": testCompressedBodies,
	}
}

// testCompressedBodies checks that a body stored compressed reads back as
// received through every path that returns a body (get, claim, lease by
// id, export) and is listed with its real size, beside a small body stored
// as is.
func testCompressedBodies(t *testing.T, s store.Store) {
	c, ok := s.(BodyCompressor)
	if !ok {
		t.Fatalf("%T does not implement SetBodyCompression", s)
	}
	c.SetBodyCompression(256)
	ctx := context.Background()
	big := newEvent("github", "a")
	big.Event.Body = []byte(`{"items":[` + strings.Repeat(`{"sku":"w-1","qty":2},`, 100) + `{}]}`)
	small := newEvent("github", "b")
	insert(t, s, big, small)

	for _, p := range []store.EventInsertParams{big, small} {
		got, err := s.EventGet(ctx, p.Event.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body, p.Event.Body) {
			t.Fatalf("EventGet body = %.40q…, want the body as received", got.Body)
		}
	}
	res := claim(t, s, base, 10, quota("a", 10))
	if len(res.Jobs) != 1 || !bytes.Equal(res.Jobs[0].Event.Body, big.Event.Body) {
		t.Fatalf("claimed job's body differs from the body as received")
	}
	jobs, err := s.DeliveryLeaseByID(ctx, store.DeliveryLeaseByIDParams{
		IDs: []string{small.Deliveries[0].ID}, Now: base, LeaseUntil: base.Add(time.Minute), LeaseToken: "t"})
	if err != nil || len(jobs) != 1 || !bytes.Equal(jobs[0].Event.Body, small.Event.Body) {
		t.Fatalf("DeliveryLeaseByID = %v, %v", jobs, err)
	}

	list, err := s.EventList(ctx, store.EventListParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int{}
	for _, e := range list.Items {
		sizes[e.ID] = e.BodySize
	}
	if sizes[big.Event.ID] != len(big.Event.Body) || sizes[small.Event.ID] != len(small.Event.Body) {
		t.Fatalf("listed sizes %v, want %d and %d", sizes, len(big.Event.Body), len(small.Event.Body))
	}

	// An export reads the body as received; an import into a store that
	// compresses keeps it so.
	rec := ReadRecord(t, s, big.Event.ID)
	if !bytes.Equal(rec.Event.Body, big.Event.Body) {
		t.Fatal("exported body differs")
	}
	imported := eventRecord("stripe", base, webhook.StatusSuccess)
	imported.Event.Body = big.Event.Body
	importRecords(t, s, imported)
	if got := ReadRecord(t, s, imported.Event.ID); !bytes.Equal(got.Event.Body, big.Event.Body) {
		t.Fatal("imported body reads back differently")
	}
	page, err := s.EventRecordList(ctx, store.EventListParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page {
		if r.Event.ID == big.Event.ID && !bytes.Equal(r.Event.Body, big.Event.Body) {
			t.Fatal("EventRecordList body differs from the body as received")
		}
	}
}
