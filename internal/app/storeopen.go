package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/config"
	redisqueue "github.com/hookd/hookd/internal/queue/redis"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/mongo"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/sqlite"
)

// isPostgres reports whether a DATABASE_URL names PostgreSQL.
func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// isMongo reports whether a DATABASE_URL names MongoDB. The MongoDB store
// creates its collections and indexes on every open (idempotent), so it
// has no separate migration step to skip.
func isMongo(url string) bool {
	return strings.HasPrefix(url, "mongodb://") || strings.HasPrefix(url, "mongodb+srv://")
}

// openStore opens the store DATABASE_URL names: the embedded SQLite file
// (which this process then holds alone, and always migrates), or PostgreSQL
// (shared by every process; migrated on start unless HOOKD_MIGRATE=false),
// or MongoDB (shared by every process; collections and indexes ensured on
// every start).
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	st, err := openStoreAs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	compress(st, cfg)
	return st, nil
}

// bodyCompressor is implemented by every store driver.
type bodyCompressor interface {
	SetBodyCompression(over int)
}

// compress applies HOOKD_COMPRESS_OVER to a store just opened.
func compress(st store.Store, cfg config.Config) {
	if c, ok := st.(bodyCompressor); ok {
		c.SetBodyCompression(cfg.CompressOver)
	}
}

func openStoreAs(ctx context.Context, cfg config.Config) (store.Store, error) {
	if isMongo(cfg.DatabaseURL) {
		return mongo.Open(ctx, cfg.DatabaseURL)
	}
	if isPostgres(cfg.DatabaseURL) {
		return postgres.OpenWithOptions(ctx, cfg.DatabaseURL, postgres.Options{SkipMigrate: !cfg.Migrate})
	}
	path, ok := cfg.SQLitePath()
	if !ok {
		return nil, fmt.Errorf("DATABASE_URL: %q is not sqlite://, postgres:// or mongodb://", cfg.DatabaseURL)
	}
	return sqlite.Open(ctx, path)
}

// Migrate applies the pending migrations of the store DATABASE_URL names
// and returns; `hookd migrate` runs it before rolling out a new version.
func Migrate(ctx context.Context, cfg config.Config) error {
	if isMongo(cfg.DatabaseURL) {
		st, err := mongo.Open(ctx, cfg.DatabaseURL) // opening migrates
		if err != nil {
			return err
		}
		return st.Close()
	}
	if isPostgres(cfg.DatabaseURL) {
		return postgres.Migrate(ctx, cfg.DatabaseURL)
	}
	path, ok := cfg.SQLitePath()
	if !ok {
		return fmt.Errorf("DATABASE_URL: %q is not sqlite://, postgres:// or mongodb://", cfg.DatabaseURL)
	}
	st, err := sqlite.OpenShared(ctx, path) // opening migrates
	if err != nil {
		return err
	}
	return st.Close()
}

// OpenShared opens the store DATABASE_URL names for a short administrative
// command beside running servers: SQLite without its process lock,
// PostgreSQL as any process does.
func OpenShared(ctx context.Context, cfg config.Config) (store.Store, error) {
	st, err := openSharedAs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	compress(st, cfg)
	return st, nil
}

func openSharedAs(ctx context.Context, cfg config.Config) (store.Store, error) {
	if isMongo(cfg.DatabaseURL) {
		return mongo.Open(ctx, cfg.DatabaseURL)
	}
	if isPostgres(cfg.DatabaseURL) {
		return postgres.OpenWithOptions(ctx, cfg.DatabaseURL, postgres.Options{SkipMigrate: !cfg.Migrate})
	}
	path, ok := cfg.SQLitePath()
	if !ok {
		return nil, fmt.Errorf("DATABASE_URL: %q is not sqlite://, postgres:// or mongodb://", cfg.DatabaseURL)
	}
	return sqlite.OpenShared(ctx, path)
}

// openRedisQueue connects to REDIS_URL and returns the Redis queue over st
// and its client, which the caller closes after the queue.
func openRedisQueue(ctx context.Context, url, prefix string, st store.Store) (*redisqueue.Queue, *goredis.Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	client := goredis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("REDIS_URL: redis does not answer: %w", err)
	}
	return redisqueue.New(client, st, redisqueue.Config{Prefix: prefix}), client, nil
}

// singleWriter is implemented by a store that knows it is on a server on
// which only one hookd process may write (FerretDB, for the MongoDB
// store): it says why, or "" when any number may.
type singleWriter interface {
	SingleWriter() string
}

// sharedStoreCheck refuses a split role (api or worker: the roles that
// exist to run beside other processes) on a store only one process may
// write, rather than let two processes corrupt each other's deliveries.
func sharedStoreCheck(st store.Store, role string) error {
	sw, ok := st.(singleWriter)
	if !ok || role == config.RoleAll {
		return nil
	}
	if why := sw.SingleWriter(); why != "" {
		return fmt.Errorf("HOOKD_ROLE: %q runs beside other processes, but %s", role, why)
	}
	return nil
}
