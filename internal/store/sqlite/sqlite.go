// Package sqlite is the embedded store: one SQLite file in WAL mode through
// the pure-Go modernc.org/sqlite driver, so hookd needs no cgo and no server.
//
// All writes go through one connection (SQLite has one writer anyway), in
// immediate transactions, with synchronous=FULL so that a committed
// transaction survives power loss, not only a process crash. Callers batch
// writes (group commit) to pay for one fsync per batch, not per event.
// Reads use a separate pool and never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of store.Store.
type Store struct {
	st statements
	// The single writer goroutine takes its work from ops (see write.go);
	// syncSet and syncFull track its connection's synchronous level.
	ops        chan *writeOp
	stopping   chan struct{}
	writerDone chan struct{}
	stopOnce   sync.Once
	syncSet    bool
	syncFull   bool

	write *sql.DB
	read  *sql.DB
	lock  *os.File
	// path is the database file, measured by UsageGet.
	path string
	// ordered is whether ordered deliveries may exist (ordering.go);
	// only the writer goroutine uses it.
	ordered orderedState
	// compressOver is the body size above which event bodies are stored
	// compressed; 0 stores every body as received.
	compressOver int
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Exclusive = (*Store)(nil)
)

// Open opens (creating if needed) the database file at path, takes its
// lock, and applies pending migrations. Only one process at a time can hold
// a database open this way: the one that delivers.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, true)
}

// OpenShared opens the database without its process lock, for short-lived
// administrative commands (managing users, API keys) that may run beside a
// serving hookd: SQLite's own locking keeps their writes safe. A shared
// store must not release leases (store.Exclusive) or deliver.
func OpenShared(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, false)
}

func open(ctx context.Context, path string, exclusive bool) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	var lock *os.File
	if exclusive {
		var err error
		if lock, err = lockFile(path + ".lock"); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	var err error
	s := &Store{path: path, lock: lock, ops: make(chan *writeOp, maxOpsPerTx), stopping: make(chan struct{}), writerDone: make(chan struct{})}
	dsn := func(extra string) string {
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)"} {
			q.Add("_pragma", p)
		}
		if extra != "" {
			q.Add("_pragma", extra)
		}
		q.Set("_txlock", "immediate")
		return "file:" + path + "?" + q.Encode()
	}
	s.write, err = sql.Open("sqlite", dsn(""))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	go s.writer()
	s.read, err = sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open reader: %w", err)
	}
	s.read.SetMaxOpenConns(4)
	s.read.SetMaxIdleConns(4)
	return s, nil
}

// migrate applies the embedded migrations not yet recorded, each in its own
// transaction, in file-name order.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("sqlite: list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: bad version: %w", base, err)
		}
		var n int
		if err := s.write.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: read migrations: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("sqlite: read migration %s: %w", base, err)
		}
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlite: begin migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: apply migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixMicro()); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: record migration %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: commit migration %s: %w", base, err)
		}
	}
	return nil
}

// Close lets queued writes finish, closes both pools and drops the file
// lock. Writes after Close fail with webhook.ErrClosed.
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stopping) })
	select {
	case <-s.writerDone:
	default:
		if s.st.syncFull != nil { // the writer was started
			<-s.writerDone
		}
	}
	var errs []error
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	return errors.Join(errs...)
}

// Ping checks the writer connection, the one that matters for ingest.
func (s *Store) Ping(ctx context.Context) error {
	return s.write.PingContext(ctx)
}

// statements are the write path's queries, prepared once on the writer
// connection: preparing costs more than running them.
type statements struct {
	syncFull, syncNormal                   *sql.Stmt
	insertEvent, insertDelivery, duplicate *sql.Stmt
	claimDue, nextDue, lease, claimOthers  *sql.Stmt
	insertAttempt, recordDelivery          *sql.Stmt
	deriveEventStatus                      *sql.Stmt
	releaseLease                           *sql.Stmt
	savepoint, rollbackTo, release         *sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	prep := func(dst **sql.Stmt, query string) error {
		st, err := s.write.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", query, err)
		}
		*dst = st
		return nil
	}
	due := `FROM deliveries INDEXED BY deliveries_due WHERE status IN ('pending', 'failed')`
	return errors.Join(
		prep(&s.st.syncFull, `PRAGMA synchronous = FULL`),
		prep(&s.st.syncNormal, `PRAGMA synchronous = NORMAL`),
		prep(&s.st.insertEvent, `INSERT INTO events
			(id, source, type, body, body_size, content_type, headers, idempotency_key, received_at, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (source, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`),
		prep(&s.st.insertDelivery, `INSERT INTO deliveries
			(id, event_id, destination, status, attempts, next_attempt_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, 0, ?, ?, ?)`),
		prep(&s.st.duplicate, `SELECT id, status FROM events WHERE source = ? AND idempotency_key = ?`),
		// The join hands each job its event's body in the same statement.
		prep(&s.st.claimDue, `SELECT `+jobColumns+`
			FROM deliveries d INDEXED BY deliveries_due JOIN events e ON e.id = d.event_id
			WHERE d.status IN ('pending', 'failed') AND d.destination = ? AND d.next_attempt_at <= ?
			ORDER BY d.next_attempt_at LIMIT ?`),
		prep(&s.st.nextDue, `SELECT MIN(next_attempt_at) `+due+` AND destination = ? AND lease_token IS NULL`),
		prep(&s.st.claimOthers, `SELECT `+jobColumns+`
			FROM deliveries d INDEXED BY deliveries_due JOIN events e ON e.id = d.event_id
			WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= ?
			AND d.destination NOT IN (SELECT value FROM json_each(?)) LIMIT ?`),
		prep(&s.st.lease, `UPDATE deliveries SET next_attempt_at = ?, lease_token = ? WHERE id = ?`),
		prep(&s.st.insertAttempt, `INSERT INTO attempts
			(id, delivery_id, number, started_at, duration_us, status_code, response_body, error, reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		prep(&s.st.recordDelivery, `UPDATE deliveries
			SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, last_reason = ?, lease_token = NULL, updated_at = ?
			WHERE id = ? AND lease_token = ?`),
		prep(&s.st.deriveEventStatus, deriveEventStatusSQL),
		prep(&s.st.releaseLease, `UPDATE deliveries SET lease_token = NULL, next_attempt_at = ? WHERE id = ? AND lease_token = ?`),
		prep(&s.st.savepoint, `SAVEPOINT op`),
		prep(&s.st.rollbackTo, `ROLLBACK TO op`),
		prep(&s.st.release, `RELEASE op`),
	)
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// EventGet implements store.Store.
func (s *Store) EventGet(ctx context.Context, id string) (webhook.Event, error) {
	var (
		ev         webhook.Event
		headers    string
		idem       sql.NullString
		receivedAt int64
		status     string
		size       sql.NullInt64
	)
	err := s.read.QueryRowContext(ctx, `SELECT id, source, type, body, body_size, content_type, headers, idempotency_key, received_at, status
		FROM events WHERE id = ?`, id).Scan(&ev.ID, &ev.Source, &ev.Type, &ev.Body, &size, &ev.ContentType, &headers, &idem, &receivedAt, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return webhook.Event{}, fmt.Errorf("event %s: %w", id, webhook.ErrNotFound)
	}
	if err != nil {
		return webhook.Event{}, fmt.Errorf("sqlite: get event: %w", err)
	}
	if err := json.Unmarshal([]byte(headers), &ev.Headers); err != nil {
		return webhook.Event{}, fmt.Errorf("sqlite: decode headers: %w", err)
	}
	if ev.Body, err = store.ExpandBody(ev.Body, size); err != nil {
		return webhook.Event{}, fmt.Errorf("sqlite: event %s: %w", id, err)
	}
	ev.IdempotencyKey = idem.String
	ev.ReceivedAt = fromMicros(receivedAt)
	ev.Status = webhook.Status(status)
	return ev, nil
}

const deliveryColumns = `id, event_id, destination, status, attempts, next_attempt_at, last_error, last_reason, created_at, updated_at`

func scanDelivery(row interface{ Scan(...any) error }) (webhook.Delivery, error) {
	var (
		d                          webhook.Delivery
		status, reason             string
		next, createdAt, updatedAt int64
	)
	if err := row.Scan(&d.ID, &d.EventID, &d.Destination, &status, &d.Attempts, &next, &d.LastError, &reason, &createdAt, &updatedAt); err != nil {
		return webhook.Delivery{}, err
	}
	d.Status, d.LastReason = webhook.Status(status), webhook.FailureReason(reason)
	d.NextAttemptAt = fromMicros(next)
	d.CreatedAt = fromMicros(createdAt)
	d.UpdatedAt = fromMicros(updatedAt)
	return d, nil
}

// jobColumns select a delivery (d) with the parts of its event (e) that
// sending needs; headers are left out.
const jobColumns = `d.id, d.event_id, d.destination, d.status, d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.updated_at,
	e.source, e.type, e.body, e.body_size, e.content_type, e.received_at, e.status`

func scanJob(row interface{ Scan(...any) error }) (webhook.Job, error) {
	var (
		j                                      webhook.Job
		d                                      = &j.Delivery
		ev                                     = &j.Event
		status, evStatus                       string
		next, createdAt, updatedAt, receivedAt int64
		size                                   sql.NullInt64
		err                                    error
	)
	if err := row.Scan(&d.ID, &d.EventID, &d.Destination, &status, &d.Attempts, &next, &d.LastError, &createdAt, &updatedAt,
		&ev.Source, &ev.Type, &ev.Body, &size, &ev.ContentType, &receivedAt, &evStatus); err != nil {
		return webhook.Job{}, err
	}
	if ev.Body, err = store.ExpandBody(ev.Body, size); err != nil {
		return webhook.Job{}, fmt.Errorf("event %s: %w", d.EventID, err)
	}
	d.Status, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = webhook.Status(status), fromMicros(next), fromMicros(createdAt), fromMicros(updatedAt)
	ev.ID, ev.ReceivedAt, ev.Status = d.EventID, fromMicros(receivedAt), webhook.Status(evStatus)
	return j, nil
}

// DeliveryListByEvent implements store.Store.
func (s *Store) DeliveryListByEvent(ctx context.Context, eventID string) ([]webhook.Delivery, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE event_id = ? ORDER BY id`, eventID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	defer rows.Close()
	var out []webhook.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan delivery: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// AttemptListByDelivery implements store.Store.
func (s *Store) AttemptListByDelivery(ctx context.Context, deliveryID string) ([]webhook.Attempt, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, delivery_id, number, started_at, duration_us, status_code, response_body, error, reason
		FROM attempts WHERE delivery_id = ? ORDER BY started_at, id`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list attempts: %w", err)
	}
	defer rows.Close()
	var out []webhook.Attempt
	for rows.Next() {
		var (
			a                   webhook.Attempt
			startedAt, duration int64
		)
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.Number, &startedAt, &duration, &a.StatusCode, &a.ResponseBody, &a.Error, &a.Reason); err != nil {
			return nil, fmt.Errorf("sqlite: scan attempt: %w", err)
		}
		a.StartedAt = fromMicros(startedAt)
		a.Duration = time.Duration(duration) * time.Microsecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// QueueStats implements store.Store.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	var st store.QueueStats
	err := s.read.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN next_attempt_at <= ?1 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN next_attempt_at > ?1 AND lease_token IS NULL THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN next_attempt_at > ?1 AND lease_token IS NOT NULL THEN 1 ELSE 0 END), 0)
		FROM deliveries WHERE status IN ('pending', 'failed')`, micros(now)).Scan(&st.Ready, &st.Scheduled, &st.InFlight)
	if err != nil {
		return st, fmt.Errorf("sqlite: queue stats: %w", err)
	}
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_dead
		WHERE status = 'permanent_failure'`).Scan(&st.Dead); err != nil {
		return st, fmt.Errorf("sqlite: status counts: %w", err)
	}
	return st, nil
}

// SettingGet implements store.Store.
func (s *Store) SettingGet(ctx context.Context, key string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("setting %s: %w", key, webhook.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: get setting: %w", err)
	}
	return v, nil
}

// SetBodyCompression makes event bodies longer than over bytes be stored
// gzip-compressed from now on (0: never). Bodies already stored stay as
// they are; both kinds are read alike. Call it before the store is used.
func (s *Store) SetBodyCompression(over int) { s.compressOver = over }
