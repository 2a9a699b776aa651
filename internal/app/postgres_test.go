package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// TestPostgresStoreDelivers runs the whole flow on PostgreSQL: ingest,
// delivery with retries, and the API's view of it.
func TestPostgresStoreDelivers(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.Schema(t, "hookd_app_test")
	rcv := startReceiver(t, receiver.FailFirst(1, http.StatusServiceUnavailable))
	ta := setup(t, func(cfg *config.Config) {
		cfg.DatabaseURL = dbURL
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("d", rcv.URL(), newSecret(t), "github")}
	})
	first := ta.mustAccept(t, "github", []byte(`{"n":1}`), http.Header{"Content-Type": {"application/json"}, "X-Github-Delivery": {"abc"}})
	again := ta.mustAccept(t, "github", []byte(`{"n":1}`), http.Header{"Content-Type": {"application/json"}, "X-Github-Delivery": {"abc"}})
	if again.ID != first.ID {
		t.Fatalf("duplicate got id %s, want %s", again.ID, first.ID)
	}
	ta.waitTerminal(t, 10*time.Second, 1, webhook.StatusSuccess)
	ds := ta.deliveriesByDestination(t, first.ID)
	if d := ds["d"]; d.Status != webhook.StatusSuccess || d.Attempts != 2 {
		t.Fatalf("delivery = %+v; want success after 2 attempts", d)
	}
	ev, err := ta.Store().EventGet(context.Background(), first.ID)
	if err != nil || ev.Status != webhook.StatusSuccess {
		t.Fatalf("event = %+v, %v", ev, err)
	}
}

// TestMigrateCommandOnPostgres applies the schema with app.Migrate, then a
// process started without migrating finds it.
func TestMigrateCommandOnPostgres(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.Schema(t, "hookd_app_test")
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	if err := app.Migrate(context.Background(), cfg); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	ta := setup(t, func(cfg *config.Config) {
		cfg.DatabaseURL = dbURL
		cfg.Migrate = false
	})
	if status, _ := ta.get(t, "/readyz"); status != http.StatusOK {
		t.Fatalf("/readyz = %d", status)
	}
}
