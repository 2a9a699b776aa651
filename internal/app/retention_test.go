package app_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/webhook"
)

// importedRecord is an event as `hookd import` stores it, with one
// delivery to destination in status st.
func importedRecord(received time.Time, destination string, st webhook.Status) store.EventRecord {
	ev := webhook.Event{ID: ids.New(ids.Event), Source: "github", Type: "push", Body: []byte(`{"imported":true}`),
		ContentType: "application/json", ReceivedAt: received, Status: st}
	d := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: destination, Status: st,
		NextAttemptAt: received, CreatedAt: received, UpdatedAt: received}
	return store.EventRecord{Event: ev, Deliveries: []store.DeliveryRecord{{Delivery: d}}}
}

// TestRetentionAndImportInRunningHookd: with HOOKD_RETENTION set, a
// serving hookd deletes old finished events at start and keeps the rest;
// a pending delivery imported into its store is delivered.
func TestRetentionAndImportInRunningHookd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dest := startReceiver(t, receiver.Always(http.StatusOK))
	dbPath := filepath.Join(t.TempDir(), "hookd.db")
	now := time.Now()
	oldDone := importedRecord(now.Add(-48*time.Hour), "d", webhook.StatusSuccess)
	oldDead := importedRecord(now.Add(-48*time.Hour), "d", webhook.StatusPermanentFailure)
	recentDone := importedRecord(now.Add(-time.Hour), "d", webhook.StatusSuccess)
	seed, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.EventImportMany(ctx, []store.EventRecord{oldDone, oldDead, recentDone}); err != nil {
		t.Fatal(err)
	}
	if err := seed.Close(); err != nil {
		t.Fatal(err)
	}

	ta := setup(t, func(cfg *config.Config) {
		cfg.DatabaseURL = "sqlite://" + dbPath
		cfg.Retention = 24 * time.Hour
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("d", dest.URL(), newSecret(t), "github")}
	})
	st := ta.Store()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, errDone := st.EventGet(ctx, oldDone.Event.ID)
		_, errDead := st.EventGet(ctx, oldDead.Event.ID)
		if errDone != nil && errDead != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old finished events still stored 10s after start: %v, %v", errDone, errDead)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := st.EventGet(ctx, recentDone.Event.ID); err != nil {
		t.Fatalf("recent event: %v", err)
	}

	// An old pending event, as an import brings it: delivered, not deleted.
	pending := importedRecord(now.Add(-72*time.Hour), "d", webhook.StatusPending)
	if n, err := st.EventImportMany(ctx, []store.EventRecord{pending}); err != nil || n != 1 {
		t.Fatalf("EventImportMany = %d, %v", n, err)
	}
	arrivals := dest.waitFor(t, 10*time.Second, "the imported delivery", func(a []receiver.Arrival) bool { return len(a) >= 1 })
	if string(arrivals[0].Body) != `{"imported":true}` {
		t.Errorf("delivered body %q", arrivals[0].Body)
	}
}
