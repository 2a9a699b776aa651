// Command hookd receives webhooks, stores them durably and delivers them to
// subscribed destinations with retries. See `hookd --help`.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/bench"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/simulate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hookd:", err)
		os.Exit(1)
	}
}

// flags are the command-line overrides of configuration; a flag that was
// not given leaves the environment's value alone.
type flags struct {
	envFile      string
	configFile   string
	port         int
	host         string
	databaseURL  string
	maxRetries   int
	retryBase    int64
	allowPrivate bool
	workers      int
	verbose      bool
	role         string
	noMigrate    bool
}

func newRoot() *cobra.Command {
	var f flags
	root := &cobra.Command{
		Use:   "hookd",
		Short: "Reliable webhook delivery: receive, store, deliver with retries",
		Long: `hookd receives webhooks at POST /webhook/{source}, answers 202 once each
event is durably stored, and delivers it to every destination subscribed to
its source, retrying with exponential backoff until it succeeds or reaches
permanent_failure.

Configuration comes from environment variables (PORT, DATABASE_URL,
MAX_RETRIES, RETRY_BASE_DELAY, HOOKD_CONFIG, ...), a .env file in the working
directory, and flags, in increasing order of precedence.

The commands that operate a running hookd (status, events, listen) find it
at HOOKD_SERVER (default http://127.0.0.1:4000) and present HOOKD_API_KEY,
a key made by hookd apikey create. Shell completion: hookd completion.`,
		Example: `  hookd serve
  hookd status
  hookd events ls --status permanent_failure
  hookd listen --source github --forward-to http://localhost:3000/hooks`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.envFile, "env-file", ".env", "file of KEY=value lines read before the environment")
	pf.StringVarP(&f.configFile, "config", "c", "", "YAML file of sources and destinations (HOOKD_CONFIG)")
	pf.BoolVarP(&f.verbose, "verbose", "v", false, "log at debug level: one line per delivery attempt")

	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run ingest, delivery, the management API and the dashboard",
		Long: `serve runs hookd: it receives webhooks at POST /webhook/{source}, stores
them, delivers them to their destinations with retries, and serves the
management API (/api), the dashboard and the operations endpoints
(/healthz, /readyz, /debug/status) on one port.

With nothing configured it uses an embedded SQLite store and queue under
./data. DATABASE_URL=postgres://… (or mongodb://…) and REDIS_URL=redis://…
let several processes share the work: --role api runs everything but delivery, for
hookd worker processes to deliver. On first start with no users it creates
the user admin (password HOOKD_ADMIN_PASSWORD, or generated and printed
once). SIGINT or SIGTERM stops it gracefully.`,
		Example: `  hookd serve
  hookd serve --config hookd.yaml --port 8080
  DATABASE_URL=postgres://hookd@db/hookd REDIS_URL=redis://cache:6379 hookd serve --role api`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, f)
			if err != nil {
				return err
			}
			return app.Run(cmd.Context(), cfg, app.Options{Logger: newLogger(cfg.LogLevel)})
		},
	}
	sf := serve.Flags()
	sf.IntVarP(&f.port, "port", "p", 4000, "HTTP port (PORT)")
	sf.StringVar(&f.host, "host", "", "address to bind, empty for all (HOOKD_HOST)")
	sf.StringVar(&f.databaseURL, "database-url", "", "sqlite://PATH, postgres://… or mongodb://… (DATABASE_URL)")
	sf.IntVar(&f.maxRetries, "max-retries", 5, "retries after the first try (MAX_RETRIES)")
	sf.Int64Var(&f.retryBase, "retry-base-delay", 5000, "milliseconds before the first retry (RETRY_BASE_DELAY)")
	sf.BoolVar(&f.allowPrivate, "allow-private-destinations", false, "let deliveries reach loopback and private addresses (HOOKD_ALLOW_PRIVATE_DESTINATIONS)")
	sf.IntVar(&f.workers, "workers", 64, "attempts in flight at most (HOOKD_WORKERS)")
	sf.StringVar(&f.role, "role", "all", "all, or api: ingest, API and operations without delivery (HOOKD_ROLE); see also hookd worker")
	sf.BoolVar(&f.noMigrate, "no-migrate", false, "do not apply pending store migrations on start (HOOKD_MIGRATE=false)")

	worker := &cobra.Command{
		Use:   "worker",
		Short: "Run delivery only, beside hookd serve --role api on a shared store",
		Long: `worker runs the delivery engine and the operations endpoints (/healthz,
/readyz, /debug/status) on PORT, and nothing else. It needs a store that
several processes share (DATABASE_URL=postgres://… or mongodb://…): run as many as the
destinations need beside hookd serve --role api.`,
		Example: `  DATABASE_URL=postgres://hookd@db/hookd REDIS_URL=redis://cache:6379 hookd worker --port 4001`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, f)
			if err != nil {
				return err
			}
			cfg.Role = config.RoleWorker
			if err := cfg.Validate(); err != nil {
				return err
			}
			return app.Run(cmd.Context(), cfg, app.Options{Logger: newLogger(cfg.LogLevel)})
		},
	}
	worker.Flags().AddFlagSet(sf)
	if err := worker.Flags().MarkHidden("role"); err != nil {
		panic(err) // the flag exists: it was just added
	}

	version := &cobra.Command{
		Use:   "version",
		Short: "Print hookd's version",
		Long: `version prints the version of this hookd binary, the one it sends in
User-Agent: hookd/<version> on every delivery.`,
		Example: `  hookd version`,
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "hookd", app.Version)
		},
	}
	root.AddCommand(serve, worker, receiveCommand(), simulate.Command(), bench.Command(), verifyCommand(), version, userCommand(&f.envFile), apiKeyCommand(&f.envFile), migrateCommand(&f.envFile))
	root.AddCommand(statusCommand(&f.envFile), eventsCommand(&f.envFile), listenCommand(&f.envFile), completionCommand())
	root.AddCommand(statsCommand(&f.envFile), exportCommand(&f.envFile), importCommand(&f.envFile))
	groupCommands(root)
	registerRoleCompletions(root)
	return root
}

// Command groups of `hookd --help`. A command in none is listed under
// "Additional Commands".
var commandGroups = []struct {
	group    cobra.Group
	commands []string
}{
	{cobra.Group{ID: "run", Title: "Run hookd:"}, []string{"serve", "worker", "migrate"}},
	{cobra.Group{ID: "operate", Title: "Operate a running hookd through its API:"}, []string{"status", "events", "listen"}},
	{cobra.Group{ID: "admin", Title: "Manage access in the database directly:"}, []string{"user", "apikey"}},
	{cobra.Group{ID: "data", Title: "Care for the stored events in the database directly:"}, []string{"stats", "export", "import"}},
	{cobra.Group{ID: "develop", Title: "Develop receivers, try and measure hookd:"}, []string{"receive", "verify", "simulate", "bench"}},
}

// groupCommands sorts root's commands into commandGroups for the help.
func groupCommands(root *cobra.Command) {
	for _, g := range commandGroups {
		root.AddGroup(&g.group)
		for _, name := range g.commands {
			if cmd, _, err := root.Find([]string{name}); err == nil && cmd != root {
				cmd.GroupID = g.group.ID
			}
		}
	}
}

// loadConfig applies defaults, then .env and the environment, then flags,
// then the YAML file, and validates the result.
func loadConfig(cmd *cobra.Command, f flags) (config.Config, error) {
	cfg := config.Default()
	env, err := config.EnvWithDotenv(f.envFile)
	if err != nil {
		return cfg, err
	}
	if err := cfg.FromEnv(env); err != nil {
		return cfg, err
	}
	changed := cmd.Flags().Changed
	if changed("port") {
		cfg.Port = f.port
	}
	if changed("host") {
		cfg.Host = f.host
	}
	if changed("database-url") {
		cfg.DatabaseURL = f.databaseURL
	}
	if changed("max-retries") {
		cfg.MaxRetries = f.maxRetries
	}
	if changed("retry-base-delay") {
		cfg.RetryBaseDelay = msDuration(f.retryBase)
	}
	if changed("allow-private-destinations") {
		cfg.AllowPrivateDestinations = f.allowPrivate
	}
	if changed("workers") {
		cfg.Workers = f.workers
	}
	if changed("role") {
		cfg.Role = f.role
	}
	if changed("no-migrate") {
		cfg.Migrate = !f.noMigrate
	}
	if changed("config") {
		cfg.ConfigFile = f.configFile
	}
	if f.verbose {
		cfg.LogLevel = "debug"
	}
	if cfg.ConfigFile == "" {
		if _, err := os.Stat("hookd.yaml"); err == nil {
			cfg.ConfigFile = "hookd.yaml"
		}
	}
	if cfg.ConfigFile != "" {
		if err := cfg.LoadFile(cfg.ConfigFile); err != nil {
			return cfg, fmt.Errorf("invalid configuration file:\n%w", err)
		}
	}
	return cfg, cfg.Validate()
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated already
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
