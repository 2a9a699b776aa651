package app_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/mongotest"
)

// TestSplitRolesRefusedOnFerretDB checks that a process meant to run
// beside others (api or worker) will not start on FerretDB, where only one
// process may write a database, while the all-in-one role does.
func TestSplitRolesRefusedOnFerretDB(t *testing.T) {
	if os.Getenv("HOOKD_TEST_MONGODB_URL") != "" {
		t.Skip("HOOKD_TEST_MONGODB_URL names a real MongoDB, on which split roles are allowed")
	}
	t.Parallel()
	dbURL := mongotest.Database(t, "roles")
	for _, role := range []string{config.RoleAPI, config.RoleWorker, config.RoleAll} {
		t.Run(role, func(t *testing.T) {
			cfg := config.Default()
			cfg.DatabaseURL, cfg.Role, cfg.AdminPassword = dbURL, role, "correct horse battery staple"
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			a, err := app.New(context.Background(), cfg, app.Options{Listener: ln, Stderr: discard{}})
			if role == config.RoleAll {
				if err != nil {
					t.Fatalf("role all on FerretDB: %v", err)
				}
				if err := a.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "FerretDB") {
				if a != nil {
					_ = a.Stop(context.Background())
				}
				t.Fatalf("role %s on FerretDB: err = %v; want a refusal naming FerretDB", role, err)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
