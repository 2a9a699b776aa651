package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded migrations/NNNN_name.sql file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("postgres: list migrations: %w", err)
	}
	out := make([]migration, 0, len(names))
	seen := map[int]string{}
	for _, name := range names {
		base := path.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("postgres: migration %s: bad version: %w", base, err)
		}
		if other, ok := seen[version]; ok {
			return nil, fmt.Errorf("postgres: migrations %s and %s share version %d", other, base, version)
		}
		seen[version] = base
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("postgres: read migration %s: %w", base, err)
		}
		out = append(out, migration{version: version, name: base, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate applies the pending migrations to the database at url and
// returns, for a `hookd migrate` step run before (or instead of) migrating
// on Open. Running it while hookd processes start is safe.
func Migrate(ctx context.Context, url string) error {
	// pgxpool, not pgx.Connect, so that a URL with pool_* settings (the
	// same one hookd serves with) is accepted.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("postgres: parse url: %w", err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer pool.Close()
	return migrate(ctx, pool)
}

// migrateLock is the advisory lock key that serializes migrations. It is
// derived from the schema being migrated, so that deployments in separate
// schemas of one database do not wait for each other.
const migrateLock = `SELECT pg_advisory_xact_lock(hashtextextended('hookd migrate ' || coalesce(current_schema(), ''), 0))`

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction. Each transaction first
// takes the advisory lock, then checks whether the migration was applied:
// of several processes starting at once, one applies it while the others
// wait on the lock, then see it recorded and skip it. A transaction-level
// lock is released by the commit or rollback, so a process that dies
// mid-migration leaves neither a half-applied migration nor a held lock.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrateLock); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    integer PRIMARY KEY,
				name       text NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return fmt.Errorf("migrations table: %w", err)
			}
			var applied bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&applied); err != nil {
				return fmt.Errorf("read migrations: %w", err)
			}
			if applied {
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("record: %w", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// checkSchema fails unless every embedded migration has been applied, for
// Options.SkipMigrate. A schema ahead of this binary (a newer hookd
// migrated it during a rolling upgrade) is accepted: migrations only add.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var current int
	err = pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current)
	if hasCode(err, codeUndefinedTable) {
		return errors.New("postgres: the database schema was never migrated: run `hookd migrate`")
	}
	if err != nil {
		return fmt.Errorf("postgres: read schema version: %w", err)
	}
	if want := ms[len(ms)-1].version; current < want {
		return fmt.Errorf("postgres: the database schema is at version %d, this hookd needs %d: run `hookd migrate`", current, want)
	}
	return nil
}
