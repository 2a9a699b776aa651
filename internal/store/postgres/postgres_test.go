package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/storetest"
	"github.com/hookd/hookd/internal/webhook"
)

// The tests run against a real PostgreSQL, each store in a schema of its
// own that is dropped when its test ends, so tests run in parallel and
// leave nothing behind.

// freshSchema creates an empty schema, drops it when the test ends, and
// returns a URL whose connections work in it.
func freshSchema(tb testing.TB) (dbURL, schema string) {
	tb.Helper()
	return pgtest.Schema(tb, "hookd_test")
}

// openAt opens a store on dbURL and closes it when the test ends (before
// its schema is dropped: cleanups run last first).
func openAt(tb testing.TB, dbURL string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T) store.Store {
	t.Helper()
	dbURL, _ := freshSchema(t)
	return openAt(t, dbURL)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}

func TestStoreIsNotExclusive(t *testing.T) {
	t.Parallel()
	// Several processes share the database: a lease found at start may be
	// another live process's, so leases run out instead of being released.
	var s store.Store = &postgres.Store{}
	if _, ok := s.(store.Exclusive); ok {
		t.Fatal("the PostgreSQL store must not implement store.Exclusive")
	}
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)

func newEvent(destinations ...string) store.EventInsertParams {
	ev := webhook.Event{
		ID: ids.New(ids.Event), Source: "github", Type: "test.event", Body: []byte(`{}`),
		ContentType: "application/json", ReceivedAt: base, Status: webhook.StatusPending,
	}
	p := store.EventInsertParams{Event: ev}
	for _, d := range destinations {
		p.Deliveries = append(p.Deliveries, webhook.Delivery{
			ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: d,
			Status: webhook.StatusPending, NextAttemptAt: base, CreatedAt: base,
		})
	}
	return p
}

func insertMany(t *testing.T, s store.Store, params []store.EventInsertParams) {
	t.Helper()
	for len(params) > 0 {
		n := min(len(params), 256)
		if _, err := s.EventInsertMany(context.Background(), params[:n]); err != nil {
			t.Fatalf("EventInsertMany: %v", err)
		}
		params = params[n:]
	}
}

// Two stores on one schema stand for two hookd processes: their claimers,
// all at once, must never lease one delivery twice, and must together
// lease every one of them.
func TestConcurrentClaimersNeverShare(t *testing.T) {
	t.Parallel()
	const deliveries, stores, claimers = 500, 2, 8
	dbURL, _ := freshSchema(t)
	var ss []*postgres.Store
	for range stores {
		ss = append(ss, openAt(t, dbURL))
	}
	dests := []string{"a", "b", "c", "d"}
	var params []store.EventInsertParams
	for i := range deliveries {
		params = append(params, newEvent(dests[i%len(dests)]))
	}
	insertMany(t, ss[0], params)

	var (
		mu      sync.Mutex
		claimed = map[string]string{} // delivery id → lease token
		dups    []string
		wg      sync.WaitGroup
		errs    = make(chan error, stores*claimers)
	)
	for _, s := range ss {
		for c := range claimers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					token := ids.New("lease_")
					// Rotate the destinations like the engine does, with quotas
					// and a limit that cut into each other.
					var quotas []store.DestinationQuota
					for k := range dests {
						quotas = append(quotas, store.DestinationQuota{Destination: dests[(c+k)%len(dests)], Limit: 3})
					}
					res, err := s.DeliveryClaimDue(context.Background(), store.DeliveryClaimParams{
						Now: base, LeaseUntil: base.Add(time.Hour), LeaseToken: token, Limit: 7, Quotas: quotas,
					})
					if err != nil {
						errs <- err
						return
					}
					if len(res.Jobs) == 0 {
						return
					}
					mu.Lock()
					for _, j := range res.Jobs {
						if other, ok := claimed[j.Delivery.ID]; ok {
							dups = append(dups, fmt.Sprintf("%s (leases %s and %s)", j.Delivery.ID, other, token))
						}
						claimed[j.Delivery.ID] = token
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("DeliveryClaimDue: %v", err)
	}
	if len(dups) > 0 {
		t.Fatalf("%d deliveries leased twice, e.g. %s", len(dups), dups[0])
	}
	if len(claimed) != deliveries {
		t.Fatalf("claimed %d deliveries, want all %d", len(claimed), deliveries)
	}
	st, err := ss[1].QueueStats(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if st.InFlight != deliveries || st.Ready != 0 {
		t.Fatalf("QueueStats = %+v, want all %d in flight", st, deliveries)
	}
}

// Deliveries of one event recorded at once by different processes: each
// transaction alone sees the others' deliveries as still pending, so the
// event status is only right if the last one derives it from the final
// state.
func TestConcurrentRecordsDeriveFinalStatus(t *testing.T) {
	t.Parallel()
	const events = 40
	dests := []string{"a", "b", "c", "d"}
	dbURL, _ := freshSchema(t)
	ss := []*postgres.Store{openAt(t, dbURL), openAt(t, dbURL)}
	var params []store.EventInsertParams
	for range events {
		params = append(params, newEvent(dests...))
	}
	insertMany(t, ss[0], params)

	var wg sync.WaitGroup
	errs := make(chan error, len(dests))
	for k, dest := range dests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := ss[k%len(ss)]
			token := "lease-" + dest
			res, err := s.DeliveryClaimDue(context.Background(), store.DeliveryClaimParams{
				Now: base, LeaseUntil: base.Add(time.Hour), LeaseToken: token, Limit: events,
				Quotas: []store.DestinationQuota{{Destination: dest, Limit: events}},
			})
			if err != nil {
				errs <- err
				return
			}
			if len(res.Jobs) != events {
				errs <- fmt.Errorf("destination %s: claimed %d, want %d", dest, len(res.Jobs), events)
				return
			}
			// One call per delivery, so that the four destinations'
			// transactions interleave on every event.
			for _, j := range res.Jobs {
				_, err := s.DeliveryRecordAttempts(context.Background(), []store.AttemptRecordParams{{
					Attempt: webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: j.Delivery.ID, Number: 1, StartedAt: base, StatusCode: 200},
					EventID: j.Event.ID, LeaseToken: token, Status: webhook.StatusSuccess, UpdatedAt: base,
				}})
				if err != nil {
					errs <- err
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
	counts, err := ss[0].EventCountBySource(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Counts[webhook.StatusSuccess] != events {
		t.Fatalf("event statuses = %+v, want all %d success", counts, events)
	}
}

// Ingest batches in several processes carrying the same idempotency keys
// in different orders: each key is stored once, every result names that
// one event, and no batch fails (they would deadlock if each inserted in
// its own order).
func TestConcurrentBatchesShareKeys(t *testing.T) {
	t.Parallel()
	const keys, batches = 200, 8
	dbURL, _ := freshSchema(t)
	ss := []*postgres.Store{openAt(t, dbURL), openAt(t, dbURL)}
	results := make([][]store.EventInsertResult, batches)
	keyOf := make([][]string, batches)
	var wg sync.WaitGroup
	errs := make(chan error, batches)
	for w := range batches {
		var params []store.EventInsertParams
		for k := range keys {
			p := newEvent("a")
			// Batch w holds the keys rotated by w, half of them reversed.
			n := (k + w*3) % keys
			if w%2 == 1 {
				n = keys - 1 - n
			}
			p.Event.IdempotencyKey = fmt.Sprintf("key-%d", n)
			keyOf[w] = append(keyOf[w], p.Event.IdempotencyKey)
			params = append(params, p)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := ss[w%len(ss)].EventInsertMany(context.Background(), params)
			if err != nil {
				errs <- err
				return
			}
			results[w] = res
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("EventInsertMany: %v", err)
	}
	idOf := map[string]string{}
	stored := 0
	for w := range batches {
		for i, r := range results[w] {
			if id, ok := idOf[keyOf[w][i]]; ok && id != r.ID {
				t.Fatalf("%s answered as %s and as %s", keyOf[w][i], id, r.ID)
			}
			idOf[keyOf[w][i]] = r.ID
			if !r.Duplicate {
				stored++
			}
		}
	}
	if stored != keys {
		t.Fatalf("%d results not duplicates, want one per key (%d)", stored, keys)
	}
	res, err := ss[0].EventList(context.Background(), store.EventListParams{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != keys {
		t.Fatalf("stored %d events, want %d", res.Total, keys)
	}
}

// A batch runs as one implicit transaction: when a later statement fails,
// the earlier ones are undone.
func TestBatchIsOneTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	p := newEvent("a")
	insertMany(t, s, []store.EventInsertParams{p})
	good := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: p.Event.ID, Destination: "b", Status: webhook.StatusPending, NextAttemptAt: base, CreatedAt: base}
	orphan := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: "evt_missing", Destination: "a", Status: webhook.StatusPending, NextAttemptAt: base, CreatedAt: base}
	if err := s.DeliveryInsertMany(ctx, []webhook.Delivery{good, orphan}); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("DeliveryInsertMany with a missing event = %v, want ErrNotFound", err)
	}
	ds, err := s.DeliveryListByEvent(ctx, p.Event.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("event has %d deliveries after a failed batch, want the 1 it had", len(ds))
	}
}

func migrationCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	return n
}

func appliedMigrations(t *testing.T, schema string) int {
	t.Helper()
	var n int
	conn, err := pgx.Connect(context.Background(), pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+schema+`.schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return n
}

func TestReopenKeepsDataAndMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL, schema := freshSchema(t)
	s, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SettingPutIfAbsent(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dbURL)
	if v, err := s.SettingGet(ctx, "k"); err != nil || v != "v" {
		t.Fatalf("after reopen SettingGet = %q, %v", v, err)
	}
	if err := postgres.Migrate(ctx, dbURL); err != nil {
		t.Fatalf("Migrate on a current schema: %v", err)
	}
	if got, want := appliedMigrations(t, schema), migrationCount(t); got != want {
		t.Fatalf("schema_migrations holds %d rows, want %d", got, want)
	}
}

// Processes starting at once on an empty schema: the advisory lock lets
// one migrate while the others wait, then find nothing left to do. Without
// it they would race on CREATE TABLE and all but one would fail.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	const processes = 6
	dbURL, schema := freshSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, processes)
	for range processes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), dbURL)
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	if got, want := appliedMigrations(t, schema), migrationCount(t); got != want {
		t.Fatalf("schema_migrations holds %d rows, want %d", got, want)
	}
}

func TestSkipMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL, _ := freshSchema(t)
	_, err := postgres.OpenWithOptions(ctx, dbURL, postgres.Options{SkipMigrate: true})
	if err == nil || !strings.Contains(err.Error(), "hookd migrate") {
		t.Fatalf("OpenWithOptions(SkipMigrate) on an empty schema = %v, want an error telling to run hookd migrate", err)
	}
	if err := postgres.Migrate(ctx, dbURL); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := postgres.OpenWithOptions(ctx, dbURL, postgres.Options{SkipMigrate: true})
	if err != nil {
		t.Fatalf("OpenWithOptions(SkipMigrate) after Migrate: %v", err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Port 1 on loopback refuses at once.
	_, err := postgres.Open(ctx, "postgres://root@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if errors.Is(err, webhook.ErrClosed) {
		t.Fatalf("Open = %v", err)
	}
}
