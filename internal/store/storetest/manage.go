package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// manageTests specify the management side of the store.
func manageTests() map[string]func(t *testing.T, s store.Store) {
	return map[string]func(t *testing.T, s store.Store){
		"EventListFiltersAndPaging": testEventList,
		"EventCountBySource":        testEventCountBySource,
		"DeliveryRequeue":           testDeliveryRequeue,
		"DeliveryRequeueDead":       testDeliveryRequeueDead,
		"DeliveryInsertManyReplay":  testDeliveryInsertMany,
		"Users":                     testUsers,
		"APIKeys":                   testAPIKeys,
		"Catalog":                   testCatalog,
	}
}

func list(t *testing.T, s store.Store, p store.EventListParams) store.EventListResult {
	t.Helper()
	res, err := s.EventList(context.Background(), p)
	if err != nil {
		t.Fatalf("EventList(%+v): %v", p, err)
	}
	return res
}

func eventIDs(items []webhook.EventSummary) []string {
	out := make([]string, len(items))
	for i, e := range items {
		out[i] = e.ID
	}
	return out
}

func testEventList(t *testing.T, s store.Store) {
	// 30 events: sources alternate github/stripe, types alternate, each
	// 1s apart; every third goes to destination "b" too.
	var all []string // oldest first
	for i := range 30 {
		dests := []string{"a"}
		if i%3 == 0 {
			dests = append(dests, "b")
		}
		p := newEvent([]string{"github", "stripe"}[i%2], dests...)
		p.Event.Type = []string{"push", "charge.succeeded", "issues.opened"}[i%3]
		p.Event.ReceivedAt = base.Add(time.Duration(i) * time.Second)
		p.Event.IdempotencyKey = fmt.Sprintf("key-%d", i)
		p.Event.Body = fmt.Appendf(nil, `{"n":%d,"needle":"%s"}`, i, map[bool]string{true: "findme", false: "other"}[i == 7])
		insert(t, s, p)
		all = append(all, p.Event.ID)
	}
	newest := func(n int) []string {
		var out []string
		for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
			out = append(out, all[i])
		}
		return out
	}

	res := list(t, s, store.EventListParams{Limit: 5})
	if res.Total != 30 || fmt.Sprint(eventIDs(res.Items)) != fmt.Sprint(newest(5)) {
		t.Fatalf("first page = %v total %d, want %v total 30", eventIDs(res.Items), res.Total, newest(5))
	}
	item := res.Items[0]
	if item.Deliveries != 1 || item.Attempts != 0 || item.BodySize == 0 || item.Source != "stripe" || item.Status != webhook.StatusPending || len(item.Body) != 0 {
		t.Fatalf("summary = %+v", item)
	}
	page3 := list(t, s, store.EventListParams{Limit: 5, Offset: 10})
	if fmt.Sprint(eventIDs(page3.Items)) != fmt.Sprint(newest(15)[10:]) {
		t.Fatalf("offset page = %v", eventIDs(page3.Items))
	}
	keyset := list(t, s, store.EventListParams{Limit: 5, Before: newest(10)[9]})
	if fmt.Sprint(eventIDs(keyset.Items)) != fmt.Sprint(newest(15)[10:]) {
		t.Fatalf("keyset page = %v, want %v", eventIDs(keyset.Items), newest(15)[10:])
	}
	beyond := list(t, s, store.EventListParams{Limit: 5, Offset: 100})
	if len(beyond.Items) != 0 || beyond.Total != 30 || beyond.Items == nil {
		t.Fatalf("page beyond the end = %+v", beyond)
	}

	tests := []struct {
		name string
		p    store.EventListParams
		want int64
	}{
		{"source", store.EventListParams{Source: "github"}, 15},
		{"type", store.EventListParams{Type: "issues.opened"}, 10},
		{"destination", store.EventListParams{Destination: "b"}, 10},
		{"status", store.EventListParams{Status: webhook.StatusPending}, 30},
		{"status none", store.EventListParams{Status: webhook.StatusSuccess}, 0},
		{"from/to", store.EventListParams{From: base.Add(10 * time.Second), To: base.Add(20 * time.Second)}, 10},
		{"query body", store.EventListParams{Query: "findme"}, 1},
		{"query id", store.EventListParams{Query: all[3]}, 1},
		{"query idempotency key", store.EventListParams{Query: "key-4"}, 1},
		{"combined", store.EventListParams{Source: "github", Destination: "b"}, 5},
	}
	for _, tt := range tests {
		tt.p.Limit = 100
		res := list(t, s, tt.p)
		if res.Total != tt.want || int64(len(res.Items)) != tt.want {
			t.Errorf("%s: total %d, %d items; want %d", tt.name, res.Total, len(res.Items), tt.want)
		}
	}
	if res := list(t, s, store.EventListParams{Limit: 3, NoTotal: true}); res.Total != -1 || len(res.Items) != 3 {
		t.Errorf("NoTotal: total %d, %d items", res.Total, len(res.Items))
	}
}

func testEventCountBySource(t *testing.T, s store.Store) {
	insert(t, s, newEvent("github", "a"), newEvent("github", "a"), newEvent("stripe"))
	counts, err := s.EventCountBySource(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[webhook.Status]int64{}
	for _, c := range counts {
		got[c.Source] = c.Counts
	}
	if got["github"][webhook.StatusPending] != 2 || got["stripe"][webhook.StatusSuccess] != 1 || len(got) != 2 {
		t.Fatalf("counts = %v", got)
	}
}

// deadEvent stores an event whose single delivery to dest ended dead.
func deadEvent(t *testing.T, s store.Store, source, dest string) store.EventInsertParams {
	t.Helper()
	p := newEvent(source, dest)
	insert(t, s, p)
	token := ids.New("lease_")
	res := claimWithToken(t, s, base, token, quota(dest, 100))
	for _, j := range res.Jobs {
		if j.Delivery.ID == p.Deliveries[0].ID {
			record(t, s, j, token, webhook.StatusPermanentFailure, time.Time{})
		} else {
			// Not ours: hand it back untouched.
			if err := s.DeliveryReleaseLeases(context.Background(), []store.LeaseReleaseParams{{DeliveryID: j.Delivery.ID, LeaseToken: token, DueAt: base}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p
}

func testDeliveryRequeue(t *testing.T, s store.Store) {
	p := deadEvent(t, s, "github", "a")
	if st := eventStatus(t, s, p.Event.ID); st != webhook.StatusPermanentFailure {
		t.Fatalf("event = %s, want permanent_failure", st)
	}
	later := base.Add(time.Hour)
	n, err := s.DeliveryRequeue(context.Background(), store.DeliveryRequeueParams{
		EventID: p.Event.ID, Statuses: []webhook.Status{webhook.StatusFailed, webhook.StatusPermanentFailure}, Now: later,
	})
	if err != nil || n != 1 {
		t.Fatalf("DeliveryRequeue = %d, %v; want 1", n, err)
	}
	d := delivery(t, s, p.Event.ID, p.Deliveries[0].ID)
	if d.Status != webhook.StatusPending || d.Attempts != 0 || !d.NextAttemptAt.Equal(later) {
		t.Fatalf("requeued delivery = %+v", d)
	}
	if st := eventStatus(t, s, p.Event.ID); st != webhook.StatusPending {
		t.Fatalf("event = %s, want pending after requeue", st)
	}
	if res := claim(t, s, later, 10, quota("a", 10)); len(res.Jobs) != 1 {
		t.Fatalf("requeued delivery not claimable")
	}
	// A pending delivery is not requeued when only dead ones are asked for.
	n, err = s.DeliveryRequeue(context.Background(), store.DeliveryRequeueParams{
		EventID: p.Event.ID, Statuses: []webhook.Status{webhook.StatusPermanentFailure}, Now: later,
	})
	if err != nil || n != 0 {
		t.Fatalf("second DeliveryRequeue = %d, %v; want 0", n, err)
	}
	// The earlier attempt is still recorded.
	if attempts, err := s.AttemptListByDelivery(context.Background(), d.ID); err != nil || len(attempts) != 1 {
		t.Fatalf("attempts after requeue = %d, %v", len(attempts), err)
	}
}

func testDeliveryRequeueDead(t *testing.T, s store.Store) {
	deadEvent(t, s, "github", "x")
	deadEvent(t, s, "github", "y")
	deadEvent(t, s, "stripe", "x")
	insert(t, s, newEvent("github", "x")) // pending, not dead
	ctx := context.Background()
	n, err := s.DeliveryRequeueDead(ctx, store.DeliveryRequeueDeadParams{Source: "github", DryRun: true, Now: base})
	if err != nil || n != 2 {
		t.Fatalf("dry run = %d, %v; want 2", n, err)
	}
	if st, _ := s.QueueStats(ctx, base); st.Dead != 3 {
		t.Fatalf("dry run changed something: dead = %d", st.Dead)
	}
	n, err = s.DeliveryRequeueDead(ctx, store.DeliveryRequeueDeadParams{Source: "github", Destination: "x", Now: base})
	if err != nil || n != 1 {
		t.Fatalf("requeue github/x = %d, %v; want 1", n, err)
	}
	n, err = s.DeliveryRequeueDead(ctx, store.DeliveryRequeueDeadParams{Now: base})
	if err != nil || n != 2 {
		t.Fatalf("requeue all = %d, %v; want 2", n, err)
	}
	if st, _ := s.QueueStats(ctx, base); st.Dead != 0 {
		t.Fatalf("dead after bulk retry = %d", st.Dead)
	}
}

func testDeliveryInsertMany(t *testing.T, s store.Store) {
	p := newEvent("github", "a")
	insert(t, s, p)
	token := "lease"
	res := claimWithToken(t, s, base, token, quota("a", 1))
	record(t, s, res.Jobs[0], token, webhook.StatusSuccess, time.Time{})
	replay := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: p.Event.ID, Destination: "a", Status: webhook.StatusPending, NextAttemptAt: base, CreatedAt: base}
	if err := s.DeliveryInsertMany(context.Background(), []webhook.Delivery{replay}); err != nil {
		t.Fatal(err)
	}
	if st := eventStatus(t, s, p.Event.ID); st != webhook.StatusPending {
		t.Fatalf("event after replay = %s, want pending", st)
	}
	if ds, err := s.DeliveryListByEvent(context.Background(), p.Event.ID); err != nil || len(ds) != 2 {
		t.Fatalf("deliveries after replay = %d, %v", len(ds), err)
	}
	orphan := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: "evt_missing", Destination: "a", Status: webhook.StatusPending, NextAttemptAt: base, CreatedAt: base}
	if err := s.DeliveryInsertMany(context.Background(), []webhook.Delivery{orphan}); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("delivery for a missing event = %v, want ErrNotFound", err)
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	if n, err := s.UserCount(ctx); err != nil || n != 0 {
		t.Fatalf("UserCount = %d, %v", n, err)
	}
	u := webhook.User{Username: "ada", PasswordHash: "h1", Role: "admin", CreatedAt: base}
	if err := s.UserCreate(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.UserCreate(ctx, u); !errors.Is(err, webhook.ErrConflict) {
		t.Fatalf("duplicate UserCreate = %v, want ErrConflict", err)
	}
	if err := s.UserCreate(ctx, webhook.User{Username: "bob", PasswordHash: "h2", Role: "viewer", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	hash, role := "h3", "viewer"
	if err := s.UserUpdate(ctx, store.UserUpdateParams{Username: "ada", PasswordHash: &hash, Now: base.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserGet(ctx, "ada")
	if err != nil || got.PasswordHash != "h3" || got.Role != "admin" || !got.UpdatedAt.Equal(base.Add(time.Second)) {
		t.Fatalf("UserGet after password change = %+v, %v", got, err)
	}
	if err := s.UserUpdate(ctx, store.UserUpdateParams{Username: "ada", Role: &role, Now: base}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserGet(ctx, "ada"); got.Role != "viewer" || got.PasswordHash != "h3" {
		t.Fatalf("UserGet after role change = %+v", got)
	}
	if err := s.UserUpdate(ctx, store.UserUpdateParams{Username: "nobody", Role: &role}); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("UserUpdate(missing) = %v", err)
	}
	users, err := s.UserList(ctx)
	if err != nil || len(users) != 2 || users[0].Username != "ada" {
		t.Fatalf("UserList = %+v, %v", users, err)
	}
	if err := s.UserDelete(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.UserDelete(ctx, "bob"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("second UserDelete = %v", err)
	}
	if _, err := s.UserGet(ctx, "bob"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("UserGet(deleted) = %v", err)
	}
}

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := webhook.APIKey{ID: "key_1", Name: "ci", Hash: "abc", Role: "viewer", CreatedAt: base}
	if err := s.APIKeyCreate(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := s.APIKeyGetByHash(ctx, "abc")
	if err != nil || got.ID != "key_1" || got.Role != "viewer" || got.Name != "ci" {
		t.Fatalf("APIKeyGetByHash = %+v, %v", got, err)
	}
	if _, err := s.APIKeyGetByHash(ctx, "nope"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("APIKeyGetByHash(missing) = %v", err)
	}
	if keys, err := s.APIKeyList(ctx); err != nil || len(keys) != 1 {
		t.Fatalf("APIKeyList = %v, %v", keys, err)
	}
	if err := s.APIKeyDelete(ctx, "key_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.APIKeyDelete(ctx, "key_1"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("second APIKeyDelete = %v", err)
	}
}

func testCatalog(t *testing.T, s store.Store) {
	ctx := context.Background()
	put := func(name, doc string, create bool) error {
		return s.CatalogPut(ctx, store.CatalogPutParams{Kind: store.CatalogDestination, Name: name, Doc: []byte(doc), Create: create, Now: base})
	}
	if err := put("a", `{"v":1}`, true); err != nil {
		t.Fatal(err)
	}
	if err := put("a", `{"v":2}`, true); !errors.Is(err, webhook.ErrConflict) {
		t.Fatalf("create twice = %v, want ErrConflict", err)
	}
	if err := put("a", `{"v":3}`, false); err != nil {
		t.Fatal(err)
	}
	if err := put("missing", `{}`, false); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("update missing = %v, want ErrNotFound", err)
	}
	entries, err := s.CatalogList(ctx, store.CatalogDestination)
	if err != nil || len(entries) != 1 || string(entries[0].Doc) != `{"v":3}` {
		t.Fatalf("CatalogList = %+v, %v", entries, err)
	}
	if others, err := s.CatalogList(ctx, store.CatalogSource); err != nil || len(others) != 0 {
		t.Fatalf("sources = %+v, %v", others, err)
	}
	if err := s.CatalogDelete(ctx, store.CatalogDestination, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.CatalogDelete(ctx, store.CatalogDestination, "a"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}
