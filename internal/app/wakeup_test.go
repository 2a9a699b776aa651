package app_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// TestWorkerWokenByAPIProcess: on PostgreSQL without Redis, a worker
// process delivers an event that an api process took without waiting for
// its poll, which is 30 s apart here (and so is its other reason to look,
// the breaker states' refresh): the api process's NOTIFY wakes it.
func TestWorkerWokenByAPIProcess(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.Schema(t, "hookd_wakeup_test")
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	secret := newSecret(t)
	configure := func(role string) func(cfg *config.Config) {
		return func(cfg *config.Config) {
			cfg.DatabaseURL = dbURL
			cfg.Role = role
			cfg.Sources = []webhook.Source{testSource("github")}
			cfg.Destinations = []webhook.Destination{testDestination("d", rcv.URL(), secret, "github")}
		}
	}
	slowPoll := func(opts *app.Options) { opts.PollInterval, opts.StateRefresh = 30*time.Second, 30*time.Second }
	worker := setupWith(t, configure(config.RoleWorker), slowPoll)
	api := setupWith(t, configure(config.RoleAPI), slowPoll)
	// The worker's first claim runs at its start; after each delivery it
	// claims once more and then sleeps for the poll, so every event after
	// the first can reach it only through a wake-up.
	for n := 1; n <= 3; n++ {
		api.mustAccept(t, "github", fmt.Appendf(nil, `{"n":%d}`, n), jsonHeader())
		worker.waitEnded(t, n)
	}
}
