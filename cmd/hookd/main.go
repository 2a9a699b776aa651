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
directory, and flags, in increasing order of precedence.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.envFile, "env-file", ".env", "file of KEY=value lines read before the environment")
	pf.StringVarP(&f.configFile, "config", "c", "", "YAML file of sources and destinations (HOOKD_CONFIG)")
	pf.BoolVarP(&f.verbose, "verbose", "v", false, "log at debug level: one line per delivery attempt")

	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run ingest, delivery and operations endpoints",
		Args:  cobra.NoArgs,
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
	sf.StringVar(&f.databaseURL, "database-url", "", "sqlite://PATH or postgres://… (DATABASE_URL)")
	sf.IntVar(&f.maxRetries, "max-retries", 5, "retries after the first try (MAX_RETRIES)")
	sf.Int64Var(&f.retryBase, "retry-base-delay", 5000, "milliseconds before the first retry (RETRY_BASE_DELAY)")
	sf.BoolVar(&f.allowPrivate, "allow-private-destinations", false, "let deliveries reach loopback and private addresses (HOOKD_ALLOW_PRIVATE_DESTINATIONS)")
	sf.IntVar(&f.workers, "workers", 64, "attempts in flight at most (HOOKD_WORKERS)")
	sf.StringVar(&f.role, "role", "all", "all, or api: ingest, API and operations without delivery (HOOKD_ROLE); see also hookd worker")
	sf.BoolVar(&f.noMigrate, "no-migrate", false, "do not apply pending store migrations on start (HOOKD_MIGRATE=false)")

	worker := &cobra.Command{
		Use:   "worker",
		Short: "Deliver only: no ingest, no API (scaled apart from serve --role api)",
		Long: `worker runs the delivery engine and the operations endpoints (/healthz,
/readyz, /debug/status) on PORT, and nothing else. It needs a store that
several processes share (DATABASE_URL=postgres://…): run as many as the
destinations need beside hookd serve --role api.`,
		Args: cobra.NoArgs,
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
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "hookd", app.Version)
		},
	}
	root.AddCommand(serve, worker, receiveCommand(), simulate.Command(), bench.Command(), verifyCommand(), version, userCommand(&f.envFile), apiKeyCommand(&f.envFile), migrateCommand(&f.envFile))
	return root
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
