package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// dataTests specify retention, import and usage.
func dataTests() map[string]func(t *testing.T, s store.Store) {
	return map[string]func(t *testing.T, s store.Store){
		"EventDeleteFinishedOnlyOldAndFinished": testDeleteFinished,
		"EventDeleteFinishedWhileIngest":        testDeleteFinishedWhileIngest,
		"EventImportKeepsEverything":            testImportKeepsEverything,
		"EventImportTwiceIsOnce":                testImportTwice,
		"UsageCounts":                           testUsage,
		"EventRecordListPages":                  testRecordListPages,
	}
}

// eventRecord returns an event received at received with one delivery per
// status, each with one attempt, and the event status derived from them.
func eventRecord(source string, received time.Time, statuses ...webhook.Status) store.EventRecord {
	ev := webhook.Event{
		ID: ids.New(ids.Event), Source: source, Type: "test.event",
		Body: []byte(`{"n":1}`), ContentType: "application/json",
		Headers: map[string]string{"X-Test": "1"}, ReceivedAt: received,
	}
	r := store.EventRecord{Event: ev}
	counts := map[webhook.Status]int{}
	for i, st := range statuses {
		d := webhook.Delivery{
			ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: fmt.Sprintf("d%d", i),
			Status: st, Attempts: 1, NextAttemptAt: received.Add(time.Minute), LastError: "HTTP 500",
			CreatedAt: received, UpdatedAt: received.Add(time.Second),
		}
		a := webhook.Attempt{
			ID: ids.New(ids.Attempt), DeliveryID: d.ID, Number: 1, StartedAt: received.Add(time.Millisecond),
			Duration: 1500 * time.Microsecond, StatusCode: 500, ResponseBody: []byte("oops"), Error: "HTTP 500",
		}
		r.Deliveries = append(r.Deliveries, store.DeliveryRecord{Delivery: d, Attempts: []webhook.Attempt{a}})
		counts[st]++
	}
	r.Event.Status = webhook.DeriveEventStatus(counts)
	return r
}

func importRecords(t *testing.T, s store.Store, records ...store.EventRecord) int {
	t.Helper()
	n, err := s.EventImportMany(context.Background(), records)
	if err != nil {
		t.Fatalf("EventImportMany: %v", err)
	}
	return n
}

// ReadRecord reads an event with its deliveries and attempts back from a
// store, as an export would.
func ReadRecord(t *testing.T, s store.Store, id string) store.EventRecord {
	t.Helper()
	ctx := context.Background()
	ev, err := s.EventGet(ctx, id)
	if err != nil {
		t.Fatalf("EventGet(%s): %v", id, err)
	}
	r := store.EventRecord{Event: ev}
	ds, err := s.DeliveryListByEvent(ctx, id)
	if err != nil {
		t.Fatalf("DeliveryListByEvent: %v", err)
	}
	for _, d := range ds {
		as, err := s.AttemptListByDelivery(ctx, d.ID)
		if err != nil {
			t.Fatalf("AttemptListByDelivery: %v", err)
		}
		r.Deliveries = append(r.Deliveries, store.DeliveryRecord{Delivery: d, Attempts: as})
	}
	return r
}

func exists(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	_, err := s.EventGet(context.Background(), id)
	if errors.Is(err, webhook.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("EventGet(%s): %v", id, err)
	}
	return true
}

func testDeleteFinished(t *testing.T, s store.Store) {
	ctx := context.Background()
	old, cutoff, recent := base, base.Add(time.Hour), base.Add(2*time.Hour)
	oldSuccess := eventRecord("github", old, webhook.StatusSuccess)
	oldDead := eventRecord("github", old, webhook.StatusPermanentFailure, webhook.StatusSuccess)
	oldNoDeliveries := eventRecord("github", old)
	oldPending := eventRecord("github", old, webhook.StatusPending)
	oldFailed := eventRecord("github", old, webhook.StatusFailed, webhook.StatusSuccess)
	// Dead and still retrying: the event is failed, and work goes on.
	oldMixed := eventRecord("github", old, webhook.StatusPermanentFailure, webhook.StatusFailed)
	recentSuccess := eventRecord("github", recent, webhook.StatusSuccess)
	importRecords(t, s, oldSuccess, oldDead, oldNoDeliveries, oldPending, oldFailed, oldMixed, recentSuccess)
	// A finished event inserted and delivered the usual way.
	p := newEvent("github", "x")
	p.Event.ReceivedAt = old
	insert(t, s, p)
	res := claimWithToken(t, s, base, "t", quota("x", 1))
	record(t, s, res.Jobs[0], "t", webhook.StatusSuccess, base)

	total := 0
	for {
		n, err := s.EventDeleteFinished(ctx, store.EventDeleteFinishedParams{Before: cutoff, Limit: 2})
		if err != nil {
			t.Fatalf("EventDeleteFinished: %v", err)
		}
		if n > 2 {
			t.Fatalf("EventDeleteFinished deleted %d, over its limit 2", n)
		}
		total += n
		if n == 0 {
			break
		}
	}
	if total != 4 {
		t.Errorf("deleted %d events, want 4", total)
	}
	for _, id := range []string{oldSuccess.Event.ID, oldDead.Event.ID, oldNoDeliveries.Event.ID, p.Event.ID} {
		if exists(t, s, id) {
			t.Errorf("old finished event %s survived", id)
		}
	}
	for _, r := range []store.EventRecord{oldPending, oldFailed, oldMixed, recentSuccess} {
		if !exists(t, s, r.Event.ID) {
			t.Errorf("event %s (%s, received %s) was deleted", r.Event.ID, r.Event.Status, r.Event.ReceivedAt)
		}
	}
	// Deliveries and attempts went with their events.
	if ds, err := s.DeliveryListByEvent(ctx, oldDead.Event.ID); err != nil || len(ds) != 0 {
		t.Errorf("deliveries of a deleted event = %v, %v; want none", ds, err)
	}
	if as, err := s.AttemptListByDelivery(ctx, oldDead.Deliveries[0].Delivery.ID); err != nil || len(as) != 0 {
		t.Errorf("attempts of a deleted event = %v, %v; want none", as, err)
	}
	u, err := s.UsageGet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Attempts != 6 { // oldPending 1, oldFailed 2, oldMixed 2, recentSuccess 1
		t.Errorf("attempts left = %d, want 6", u.Attempts)
	}
}

// testDeleteFinishedWhileIngest runs a retention pass beside a burst of
// ingest: every new event is stored, and only the old finished ones go.
func testDeleteFinishedWhileIngest(t *testing.T, s store.Store) {
	ctx := context.Background()
	const oldCount = 300
	var old []store.EventRecord
	for i := range oldCount {
		old = append(old, eventRecord("github", base.Add(time.Duration(i)*time.Millisecond), webhook.StatusSuccess))
	}
	importRecords(t, s, old...)
	cutoff := base.Add(time.Hour)

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ingested []string
		errs     = make(chan error, 8)
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				p := newEvent("burst", "a")
				p.Event.ReceivedAt = base // old, but pending: never deleted
				p.Event.IdempotencyKey = fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.EventInsertMany(ctx, []store.EventInsertParams{p}); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				ingested = append(ingested, p.Event.ID)
				mu.Unlock()
			}
		}()
	}
	deleted := 0
	for {
		n, err := s.EventDeleteFinished(ctx, store.EventDeleteFinishedParams{Before: cutoff, Limit: 50})
		if err != nil {
			t.Fatalf("EventDeleteFinished: %v", err)
		}
		deleted += n
		if n == 0 {
			break
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("ingest during retention: %v", err)
	}
	if deleted != oldCount {
		t.Errorf("deleted %d, want %d", deleted, oldCount)
	}
	if len(ingested) != 100 {
		t.Fatalf("ingested %d, want 100", len(ingested))
	}
	for _, id := range ingested {
		if !exists(t, s, id) {
			t.Fatalf("event %s ingested during retention is gone", id)
		}
	}
}

func testImportKeepsEverything(t *testing.T, s store.Store) {
	r := eventRecord("stripe", base, webhook.StatusSuccess, webhook.StatusPending, webhook.StatusPermanentFailure)
	r.Event.IdempotencyKey = "evt_provider_1"
	r.Deliveries[0].Attempts = append(r.Deliveries[0].Attempts, webhook.Attempt{
		ID: ids.New(ids.Attempt), DeliveryID: r.Deliveries[0].Delivery.ID, Number: 2,
		StartedAt: base.Add(time.Minute), Duration: time.Millisecond, StatusCode: 200,
	})
	if n := importRecords(t, s, r); n != 1 {
		t.Fatalf("EventImportMany stored %d, want 1", n)
	}
	got := ReadRecord(t, s, r.Event.ID)
	if !RecordsEqual(got, r) {
		t.Errorf("imported record read back differs:\n got %+v\nwant %+v", got, r)
	}
	// The pending delivery is due again, without a lease.
	res := claim(t, s, base.Add(2*time.Minute), 10, quota("d1", 10))
	if len(res.Jobs) != 1 || res.Jobs[0].Delivery.ID != r.Deliveries[1].Delivery.ID {
		t.Errorf("claim after import = %+v, want the pending delivery", res.Jobs)
	}
	// A record repeating a stored (source, idempotency key) is skipped.
	dup := eventRecord("stripe", base, webhook.StatusSuccess)
	dup.Event.IdempotencyKey = "evt_provider_1"
	if n := importRecords(t, s, dup); n != 0 {
		t.Errorf("import of a repeated idempotency key stored %d, want 0", n)
	}
}

func testImportTwice(t *testing.T, s store.Store) {
	ctx := context.Background()
	var rs []store.EventRecord
	for i := range 10 {
		rs = append(rs, eventRecord("github", base.Add(time.Duration(i)*time.Second), webhook.StatusSuccess, webhook.StatusFailed))
	}
	if n := importRecords(t, s, rs...); n != 10 {
		t.Fatalf("first import stored %d, want 10", n)
	}
	before, err := s.UsageGet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := importRecords(t, s, rs...); n != 0 {
		t.Fatalf("second import stored %d, want 0", n)
	}
	after, err := s.UsageGet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before.SizeBytes, after.SizeBytes = 0, 0
	if !reflect.DeepEqual(before, after) {
		t.Errorf("counts after a second import = %+v, want %+v", after, before)
	}
	for _, r := range rs {
		if got := ReadRecord(t, s, r.Event.ID); !RecordsEqual(got, r) {
			t.Errorf("record %s changed", r.Event.ID)
		}
	}
}

func testUsage(t *testing.T, s store.Store) {
	ctx := context.Background()
	u, err := s.UsageGet(ctx)
	if err != nil {
		t.Fatalf("UsageGet: %v", err)
	}
	if u.Attempts != 0 || len(u.Events) != 0 || !u.OldestEvent.IsZero() {
		t.Errorf("usage of an empty store = %+v", u)
	}
	importRecords(t, s,
		eventRecord("a", base.Add(time.Hour), webhook.StatusSuccess),
		eventRecord("a", base, webhook.StatusPermanentFailure, webhook.StatusPending),
	)
	insert(t, s, newEvent("b", "x", "y"))
	if u, err = s.UsageGet(ctx); err != nil {
		t.Fatalf("UsageGet: %v", err)
	}
	wantEvents := map[webhook.Status]int64{webhook.StatusSuccess: 1, webhook.StatusPending: 2}
	wantDeliveries := map[webhook.Status]int64{webhook.StatusSuccess: 1, webhook.StatusPermanentFailure: 1, webhook.StatusPending: 3}
	if !reflect.DeepEqual(u.Events, wantEvents) || !reflect.DeepEqual(u.Deliveries, wantDeliveries) {
		t.Errorf("usage counts = events %v deliveries %v; want %v %v", u.Events, u.Deliveries, wantEvents, wantDeliveries)
	}
	if u.Attempts != 3 || !u.OldestEvent.Equal(base) || u.SizeBytes <= 0 {
		t.Errorf("usage = %+v, want 3 attempts, oldest %s, a size", u, base)
	}
}

// RecordsEqual reports whether two event records hold the same content:
// the event (body included), its deliveries and their attempts, times
// compared as instants. Deliveries and attempts are compared in order.
func RecordsEqual(a, b store.EventRecord) bool {
	ea, eb := a.Event, b.Event
	if ea.ID != eb.ID || ea.Source != eb.Source || ea.Type != eb.Type || string(ea.Body) != string(eb.Body) ||
		ea.ContentType != eb.ContentType || ea.IdempotencyKey != eb.IdempotencyKey || ea.Status != eb.Status ||
		!ea.ReceivedAt.Equal(eb.ReceivedAt) || len(ea.Headers) != len(eb.Headers) {
		return false
	}
	for k, v := range ea.Headers {
		if eb.Headers[k] != v {
			return false
		}
	}
	if len(a.Deliveries) != len(b.Deliveries) {
		return false
	}
	for i := range a.Deliveries {
		da, db := a.Deliveries[i].Delivery, b.Deliveries[i].Delivery
		if da.ID != db.ID || da.EventID != db.EventID || da.Destination != db.Destination || da.Status != db.Status ||
			da.Attempts != db.Attempts || da.LastError != db.LastError || !da.NextAttemptAt.Equal(db.NextAttemptAt) ||
			!da.CreatedAt.Equal(db.CreatedAt) || !da.UpdatedAt.Equal(db.UpdatedAt) {
			return false
		}
		aa, ab := a.Deliveries[i].Attempts, b.Deliveries[i].Attempts
		if len(aa) != len(ab) {
			return false
		}
		for j := range aa {
			x, y := aa[j], ab[j]
			if x.ID != y.ID || x.DeliveryID != y.DeliveryID || x.Number != y.Number || !x.StartedAt.Equal(y.StartedAt) ||
				x.Duration != y.Duration || x.StatusCode != y.StatusCode || string(x.ResponseBody) != string(y.ResponseBody) || x.Error != y.Error {
				return false
			}
		}
	}
	return true
}

func testRecordListPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	byID := map[string]store.EventRecord{}
	var all []store.EventRecord
	for i := range 7 {
		r := eventRecord([]string{"a", "b"}[i%2], base.Add(time.Duration(i)*time.Minute), webhook.StatusSuccess, webhook.StatusFailed)
		byID[r.Event.ID] = r
		all = append(all, r)
	}
	noDeliveries := eventRecord("a", base.Add(time.Hour))
	byID[noDeliveries.Event.ID] = noDeliveries
	all = append(all, noDeliveries)
	importRecords(t, s, all...)

	for _, tt := range []struct {
		source string
		want   int
	}{{"", 8}, {"a", 5}} {
		var seen []string
		params := store.EventListParams{Source: tt.source, Limit: 3}
		for {
			page, err := s.EventRecordList(ctx, params)
			if err != nil {
				t.Fatalf("EventRecordList: %v", err)
			}
			for _, r := range page {
				if len(seen) > 0 && r.Event.ID >= seen[len(seen)-1] {
					t.Fatalf("records not newest first: %s after %s", r.Event.ID, seen[len(seen)-1])
				}
				if want, ok := byID[r.Event.ID]; !ok || !RecordsEqual(r, want) || (tt.source != "" && r.Event.Source != tt.source) {
					t.Errorf("record %s = %+v, want %+v", r.Event.ID, r, want)
				}
				seen = append(seen, r.Event.ID)
			}
			if len(page) < params.Limit {
				break
			}
			params.Before = page[len(page)-1].Event.ID
		}
		if len(seen) != tt.want {
			t.Errorf("source %q: %d records, want %d", tt.source, len(seen), tt.want)
		}
	}
}
