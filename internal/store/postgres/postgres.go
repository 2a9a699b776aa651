// Package postgres is the store for hookd's scaled-out setup: many hookd
// processes, on many machines, sharing one PostgreSQL database through pgx
// (github.com/jackc/pgx/v5/pgxpool). It is held to the same conformance
// suite (storetest) as the embedded SQLite store and means the same thing by
// every method; only the dialect and the concurrency story differ.
//
// Concurrency. SQLite has one writer, so its driver funnels all writes
// through one goroutine. PostgreSQL takes concurrent writers, so this driver
// has no writer goroutine: each call runs its own transaction on a pooled
// connection, and correctness among processes rests on row locks:
//
//   - DeliveryClaimDue selects due rows FOR UPDATE SKIP LOCKED and leases
//     them in the same statement, so concurrent claimers, in this process or
//     another, never get the same delivery and never wait for each other.
//   - A lease is a visibility timeout here too: the claim moves the row's
//     next_attempt_at to LeaseUntil and sets lease_token. A process that dies
//     holding leases cannot hand them back, and no other process can know
//     it died, so its deliveries simply come due again when the lease runs
//     out. For the same reason this driver does not implement
//     store.Exclusive: a lease found at start may belong to a live process.
//   - Results are fenced by the lease token: an attempt recorded under a
//     lease that ran out (and was taken by another claimer) is kept, but
//     does not move the delivery.
//   - An event's status is derived from its deliveries in SQL. Two
//     transactions recording different deliveries of one event could each
//     miss the other's uncommitted change, so each first locks the event
//     rows (in id order, so that they cannot deadlock) and derives in the
//     next statement, which in READ COMMITTED sees every change committed
//     before it got the lock: the last writer derives from the final state.
//   - Ingest batches insert idempotency keys in (source, key) order, so two
//     batches holding the same keys wait for each other instead of
//     deadlocking. A deadlock that remains possible (results and releases
//     naming overlapping deliveries in different orders) aborts one
//     transaction; every write is one transaction and is retried whole.
//
// Round trips. The hot paths (EventInsertMany, DeliveryClaimDue,
// DeliveryRecordAttempts, DeliveryReleaseLeases) send all their statements
// as one pgx batch: one round trip, run by PostgreSQL as one implicit
// transaction that commits at the batch's Sync. Each statement handles the
// whole batch of rows through unnest() of array parameters, so a batch of
// 256 events costs two statements, not 512.
//
// Pool size. Callers already batch (ingest and the attempt recorder each
// keep one batch in flight; the queue claims in batches), so a handful of
// connections per process is enough, and many processes stay well within
// PostgreSQL's max_connections (100 by default: room for 20 processes of 4
// connections). The pool is pgxpool's default, max(4, runtime.NumCPU())
// connections; pool_max_conns in the URL overrides it. Wakeups, when used
// (no Redis), holds one more connection per process, outside the pool,
// for LISTEN.
//
// Durability. A write returns once its transaction has committed. Event
// inserts, catalog, users and every operator action commit with
// synchronous_commit on (PostgreSQL's default): the WAL is flushed, so a 202
// for an event survives a crash of the database server, not only of hookd.
// Concurrent commits share WAL flushes (PostgreSQL's own group commit).
// Claims, leases, attempt records and lease releases commit with
// synchronous_commit off (sendRecoverable), the trade the SQLite store
// makes with synchronous=NORMAL: they are visible to every process at
// once and survive any crash of hookd, and a crash of the database server
// itself can undo the last fraction of a second of them (PostgreSQL's
// wal_writer_delay, 200 ms by default). Undoing a lease makes a delivery
// claimable again; undoing a result makes its attempt run again. Either
// costs one more attempt (at least once allows it), never an event, and
// the server never applies part of such a transaction.
//
// Schema. Migrations are embedded (migrations/*.sql) and applied on Open
// unless Options.SkipMigrate is set, each in its own transaction under a
// transaction-level advisory lock, so that processes starting together
// migrate once. Migrate applies them alone, for a `hookd migrate` step.
// The store works in the first schema of the connection's search_path, so
// several hookd deployments (or tests) can share one database.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Store is the PostgreSQL implementation of store.Store. It is safe for
// concurrent use, and any number of Stores, in any number of processes,
// may share one database.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
	// compressOver is the body size above which event bodies are stored
	// compressed; 0 stores every body as received.
	compressOver int
}

// SetBodyCompression makes event bodies longer than over bytes be stored
// gzip-compressed from now on (0: never). Bodies already stored stay as
// they are; both kinds are read alike. Call it before the store is used.
func (s *Store) SetBodyCompression(over int) { s.compressOver = over }

var _ store.Store = (*Store)(nil)

// Options changes how OpenWithOptions opens the store. The zero value is
// what Open uses.
type Options struct {
	// SkipMigrate leaves the schema alone instead of applying pending
	// migrations; Open then fails if the schema lacks a migration this
	// binary needs. Set it when a separate `hookd migrate` step owns schema
	// changes (the database user hookd serves with may then lack DDL
	// rights). Default false: migrate on open.
	SkipMigrate bool
}

// Open connects to the database at url (a postgres:// URL or key=value
// DSN, as pgx parses it, including pool_* settings) and applies pending
// migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWithOptions(ctx, url, Options{})
}

// OpenWithOptions is Open with options.
func OpenWithOptions(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "hookd"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if opts.SkipMigrate {
		err = checkSchema(ctx, pool)
	} else {
		err = migrate(ctx, pool)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Close closes the pool; it is idempotent. Calls after Close fail with an
// error wrapping webhook.ErrClosed.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.pool.Close()
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.open(); err != nil {
		return err
	}
	if err := s.pool.Ping(ctx); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// open returns an error wrapping webhook.ErrClosed once Close was called.
func (s *Store) open() error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: %w", webhook.ErrClosed)
	}
	return nil
}

// fail wraps err from operation op. An error caused by Close racing with
// the call is reported as webhook.ErrClosed.
func (s *Store) fail(op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres: %s: %w (%w)", op, webhook.ErrClosed, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// PostgreSQL error codes this driver acts on.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeUndefinedTable       = "42P01"
	codeDeadlockDetected     = "40P01"
	codeSerializationFailure = "40001"
)

func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// maxTries bounds how often a transaction aborted by a deadlock is run.
const maxTries = 5

// retry runs fn, which must be one whole transaction, again when
// PostgreSQL aborted it to break a deadlock or a serialization conflict:
// nothing of it was committed, so running it again is safe.
func retry(ctx context.Context, fn func() error) error {
	for try := 1; ; try++ {
		err := fn()
		if err == nil || try == maxTries || !(hasCode(err, codeDeadlockDetected) || hasCode(err, codeSerializationFailure)) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try) * 5 * time.Millisecond):
		}
	}
}

// send runs b as one implicit transaction, retrying it on deadlock. build
// queues the statements and their result callbacks afresh for every try.
func (s *Store) send(ctx context.Context, build func(b *pgx.Batch)) error {
	return retry(ctx, func() error {
		b := &pgx.Batch{}
		build(b)
		return s.pool.SendBatch(ctx, b).Close()
	})
}

// sendRecoverable is send for work whose loss in a database server crash
// costs an attempt, never an event (see Durability in the package doc): it
// commits without waiting for the WAL flush. SET LOCAL holds for the
// batch's implicit transaction only.
func (s *Store) sendRecoverable(ctx context.Context, build func(b *pgx.Batch)) error {
	return s.send(ctx, func(b *pgx.Batch) {
		b.Queue("SET LOCAL synchronous_commit = off")
		build(b)
	})
}

// inTx runs fn in a transaction, retrying it whole on deadlock.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return retry(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, fn)
	})
}

// utc returns a time read from the database in UTC, as the SQLite store
// returns it. The zero time is stored as 0001-01-01 UTC and comes back as
// the zero time.
func utc(t time.Time) time.Time { return t.UTC() }

// nullTime stores the zero time as NULL, for columns where it means "never".
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullString stores the empty string as NULL (idempotency keys: the unique
// index only covers events that have one).
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// EventGet implements store.Store.
func (s *Store) EventGet(ctx context.Context, id string) (webhook.Event, error) {
	if err := s.open(); err != nil {
		return webhook.Event{}, err
	}
	var (
		ev     webhook.Event
		idem   *string
		status string
		size   sql.NullInt64
	)
	err := s.pool.QueryRow(ctx, `SELECT id, source, type, body, body_size, content_type, headers, idempotency_key, received_at, status
		FROM events WHERE id = $1`, id).Scan(&ev.ID, &ev.Source, &ev.Type, &ev.Body, &size, &ev.ContentType, &ev.Headers, &idem, &ev.ReceivedAt, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return webhook.Event{}, fmt.Errorf("event %s: %w", id, webhook.ErrNotFound)
	}
	if err != nil {
		return webhook.Event{}, s.fail("get event", err)
	}
	if ev.Body, err = store.ExpandBody(ev.Body, size); err != nil {
		return webhook.Event{}, fmt.Errorf("postgres: event %s: %w", id, err)
	}
	if idem != nil {
		ev.IdempotencyKey = *idem
	}
	ev.ReceivedAt = utc(ev.ReceivedAt)
	ev.Status = webhook.Status(status)
	return ev, nil
}

const deliveryColumns = `id, event_id, destination, status, attempts, next_attempt_at, last_error, last_reason, created_at, updated_at`

func scanDelivery(row pgx.CollectableRow) (webhook.Delivery, error) {
	var (
		d      webhook.Delivery
		status string
	)
	if err := row.Scan(&d.ID, &d.EventID, &d.Destination, &status, &d.Attempts, &d.NextAttemptAt, &d.LastError, &d.LastReason, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return webhook.Delivery{}, err
	}
	d.Status = webhook.Status(status)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = utc(d.NextAttemptAt), utc(d.CreatedAt), utc(d.UpdatedAt)
	return d, nil
}

// DeliveryListByEvent implements store.Store.
func (s *Store) DeliveryListByEvent(ctx context.Context, eventID string) ([]webhook.Delivery, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE event_id = $1 ORDER BY id`, eventID)
	if err != nil {
		return nil, s.fail("list deliveries", err)
	}
	out, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, s.fail("list deliveries", err)
	}
	return out, nil
}

// DeliveryListWaiting implements store.Store.
func (s *Store) DeliveryListWaiting(ctx context.Context, p store.DeliveryListWaitingParams) ([]webhook.Delivery, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE id > $1 AND status IN ('pending', 'failed') ORDER BY id LIMIT $2`, p.After, max(p.Limit, 1))
	if err != nil {
		return nil, s.fail("list waiting", err)
	}
	out, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, s.fail("list waiting", err)
	}
	return out, nil
}

// AttemptListByDelivery implements store.Store.
func (s *Store) AttemptListByDelivery(ctx context.Context, deliveryID string) ([]webhook.Attempt, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, delivery_id, number, started_at, duration_us, status_code, response_body, error, reason
		FROM attempts WHERE delivery_id = $1 ORDER BY started_at, id`, deliveryID)
	if err != nil {
		return nil, s.fail("list attempts", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Attempt, error) {
		var (
			a        webhook.Attempt
			duration int64
		)
		if err := row.Scan(&a.ID, &a.DeliveryID, &a.Number, &a.StartedAt, &duration, &a.StatusCode, &a.ResponseBody, &a.Error, &a.Reason); err != nil {
			return a, err
		}
		a.StartedAt = utc(a.StartedAt)
		a.Duration = time.Duration(duration) * time.Microsecond
		return a, nil
	})
	if err != nil {
		return nil, s.fail("list attempts", err)
	}
	return out, nil
}

// QueueStats implements store.Store.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	var st store.QueueStats
	if err := s.open(); err != nil {
		return st, err
	}
	err := s.pool.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE next_attempt_at <= $1),
		count(*) FILTER (WHERE next_attempt_at > $1 AND lease_token IS NULL),
		count(*) FILTER (WHERE next_attempt_at > $1 AND lease_token IS NOT NULL),
		(SELECT count(*) FROM deliveries WHERE status = 'permanent_failure')
		FROM deliveries WHERE status IN ('pending', 'failed')`, now).Scan(&st.Ready, &st.Scheduled, &st.InFlight, &st.Dead)
	if err != nil {
		return st, s.fail("queue stats", err)
	}
	return st, nil
}

// SettingGet implements store.Store.
func (s *Store) SettingGet(ctx context.Context, key string) (string, error) {
	if err := s.open(); err != nil {
		return "", err
	}
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("setting %s: %w", key, webhook.ErrNotFound)
	}
	if err != nil {
		return "", s.fail("get setting", err)
	}
	return v, nil
}

// SettingPutIfAbsent implements store.Store.
func (s *Store) SettingPutIfAbsent(ctx context.Context, key, value string) (string, error) {
	if err := s.open(); err != nil {
		return "", err
	}
	var v string
	// DO UPDATE (to the same value) rather than DO NOTHING, so that the
	// statement returns the stored row in either case.
	err := s.pool.QueryRow(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = settings.value RETURNING value`, key, value).Scan(&v)
	if err != nil {
		return "", s.fail("put setting", err)
	}
	return v, nil
}
