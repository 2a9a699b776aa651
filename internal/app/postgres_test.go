package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// postgresURL returns a URL of a fresh schema on the test PostgreSQL
// (HOOKD_TEST_POSTGRES_URL, default the local server), dropped when the
// test ends.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("HOOKD_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://root@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at %s: %v (start it with pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", base, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "hookd_app_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, base); err == nil {
			_, _ = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestPostgresStoreDelivers runs the whole flow on PostgreSQL: ingest,
// delivery with retries, and the API's view of it.
func TestPostgresStoreDelivers(t *testing.T) {
	t.Parallel()
	dbURL := postgresURL(t)
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
	dbURL := postgresURL(t)
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
