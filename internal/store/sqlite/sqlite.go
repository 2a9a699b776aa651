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
	// wmu makes each write (level pragma + transaction) atomic; durable and
	// modeSet track the writer connection's synchronous level.
	wmu     sync.Mutex
	durable bool
	modeSet bool

	write *sql.DB
	read  *sql.DB
	lock  *os.File
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Exclusive = (*Store)(nil)
)

// Open opens (creating if needed) the database file at path, takes its
// lock, and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s := &Store{lock: lock}
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

// Close closes both pools and drops the file lock.
func (s *Store) Close() error {
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
	eventForSend                           *sql.Stmt
	insertAttempt, recordDelivery          *sql.Stmt
	countByStatus, setEventStatus          *sql.Stmt
	release                                *sql.Stmt
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
			(id, source, type, body, content_type, headers, idempotency_key, received_at, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (source, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`),
		prep(&s.st.insertDelivery, `INSERT INTO deliveries
			(id, event_id, destination, status, attempts, next_attempt_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, 0, ?, ?, ?)`),
		prep(&s.st.duplicate, `SELECT id, status FROM events WHERE source = ? AND idempotency_key = ?`),
		prep(&s.st.claimDue, `SELECT `+deliveryColumns+` `+due+`
			AND destination = ? AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`),
		prep(&s.st.nextDue, `SELECT MIN(next_attempt_at) `+due+` AND destination = ?`),
		prep(&s.st.claimOthers, `SELECT `+deliveryColumns+` `+due+`
			AND next_attempt_at <= ? AND destination NOT IN (SELECT value FROM json_each(?)) LIMIT ?`),
		prep(&s.st.lease, `UPDATE deliveries SET next_attempt_at = ?, lease_token = ? WHERE id = ?`),
		prep(&s.st.eventForSend, `SELECT id, source, type, body, content_type, received_at, status FROM events WHERE id = ?`),
		prep(&s.st.insertAttempt, `INSERT INTO attempts
			(id, delivery_id, number, started_at, duration_us, status_code, response_body, error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		prep(&s.st.recordDelivery, `UPDATE deliveries
			SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, lease_token = NULL, updated_at = ?
			WHERE id = ? AND lease_token = ?`),
		prep(&s.st.countByStatus, `SELECT status, COUNT(*) FROM deliveries WHERE event_id = ? GROUP BY status`),
		prep(&s.st.setEventStatus, `UPDATE events SET status = ? WHERE id = ? AND status <> ?`),
		prep(&s.st.release, `UPDATE deliveries SET lease_token = NULL, next_attempt_at = ? WHERE id = ? AND lease_token = ?`),
	)
}

// writeTx is a write transaction with the prepared statements bound to it.
// It holds the store's write lock until Commit or Rollback.
type writeTx struct {
	*sql.Tx
	ctx    context.Context
	unlock func()
}

// stmt binds a prepared statement to the transaction; database/sql reuses
// the statement already prepared on the (single) writer connection.
func (t writeTx) stmt(st *sql.Stmt) *sql.Stmt { return t.Tx.StmtContext(t.ctx, st) }

// Commit commits and releases the write lock.
func (t writeTx) Commit() error {
	defer t.unlock()
	return t.Tx.Commit()
}

// Rollback aborts and releases the write lock; after Commit it does nothing.
func (t writeTx) Rollback() error {
	defer t.unlock()
	return t.Tx.Rollback()
}

// begin starts an immediate transaction on the single writer connection.
//
// durable selects synchronous=FULL: the commit is fsynced and survives a
// power cut. Event inserts need that, because a 202 promises it. Claims,
// lease releases and attempt records use NORMAL: in WAL mode they survive a
// process crash (kill -9) all the same, and the next FULL commit syncs them
// too; a power cut in between can only undo a lease or an attempt record,
// which means one more attempt, never a lost event. SQLite refuses to change
// the level inside a transaction, so the write lock covers the pragma and
// the transaction together.
func (s *Store) begin(ctx context.Context, durable bool) (writeTx, error) {
	s.wmu.Lock()
	var once sync.Once
	unlock := func() { once.Do(s.wmu.Unlock) }
	if s.durable != durable || !s.modeSet {
		mode := s.st.syncNormal
		if durable {
			mode = s.st.syncFull
		}
		if _, err := mode.ExecContext(ctx); err != nil {
			unlock()
			return writeTx{}, err
		}
		s.durable, s.modeSet = durable, true
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		s.modeSet = false // the connection may have been replaced
		unlock()
		return writeTx{}, err
	}
	return writeTx{Tx: tx, ctx: ctx, unlock: unlock}, nil
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

// EventInsertMany implements store.Store.
func (s *Store) EventInsertMany(ctx context.Context, params []store.EventInsertParams) (_ []store.EventInsertResult, err error) {
	tx, err := s.begin(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	insEvent, insDelivery := tx.stmt(s.st.insertEvent), tx.stmt(s.st.insertDelivery)

	results := make([]store.EventInsertResult, len(params))
	for i, p := range params {
		ev := p.Event
		headers, err := json.Marshal(ev.Headers)
		if err != nil {
			return nil, fmt.Errorf("sqlite: encode headers: %w", err)
		}
		var idem any
		if ev.IdempotencyKey != "" {
			idem = ev.IdempotencyKey
		}
		body := ev.Body
		if body == nil {
			body = []byte{}
		}
		res, err := insEvent.ExecContext(ctx, ev.ID, ev.Source, ev.Type, body, ev.ContentType, string(headers), idem, micros(ev.ReceivedAt), string(ev.Status))
		if err != nil {
			return nil, fmt.Errorf("sqlite: insert event: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var first store.EventInsertResult
			var status string
			if err := tx.stmt(s.st.duplicate).QueryRowContext(ctx, ev.Source, ev.IdempotencyKey).Scan(&first.ID, &status); err != nil {
				return nil, fmt.Errorf("sqlite: find duplicate: %w", err)
			}
			first.Status = webhook.Status(status)
			first.Duplicate = true
			results[i] = first
			continue
		}
		for _, d := range p.Deliveries {
			if _, err := insDelivery.ExecContext(ctx, d.ID, ev.ID, d.Destination, string(d.Status), micros(d.NextAttemptAt), micros(d.CreatedAt), micros(d.CreatedAt)); err != nil {
				return nil, fmt.Errorf("sqlite: insert delivery: %w", err)
			}
		}
		results[i] = store.EventInsertResult{ID: ev.ID, Status: ev.Status}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: commit: %w", err)
	}
	return results, nil
}

// EventGet implements store.Store.
func (s *Store) EventGet(ctx context.Context, id string) (webhook.Event, error) {
	var (
		ev         webhook.Event
		headers    string
		idem       sql.NullString
		receivedAt int64
		status     string
	)
	err := s.read.QueryRowContext(ctx, `SELECT id, source, type, body, content_type, headers, idempotency_key, received_at, status
		FROM events WHERE id = ?`, id).Scan(&ev.ID, &ev.Source, &ev.Type, &ev.Body, &ev.ContentType, &headers, &idem, &receivedAt, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return webhook.Event{}, fmt.Errorf("event %s: %w", id, webhook.ErrNotFound)
	}
	if err != nil {
		return webhook.Event{}, fmt.Errorf("sqlite: get event: %w", err)
	}
	if err := json.Unmarshal([]byte(headers), &ev.Headers); err != nil {
		return webhook.Event{}, fmt.Errorf("sqlite: decode headers: %w", err)
	}
	ev.IdempotencyKey = idem.String
	ev.ReceivedAt = fromMicros(receivedAt)
	ev.Status = webhook.Status(status)
	return ev, nil
}

const deliveryColumns = `id, event_id, destination, status, attempts, next_attempt_at, last_error, created_at, updated_at`

func scanDelivery(row interface{ Scan(...any) error }) (webhook.Delivery, error) {
	var (
		d                          webhook.Delivery
		status                     string
		next, createdAt, updatedAt int64
	)
	if err := row.Scan(&d.ID, &d.EventID, &d.Destination, &status, &d.Attempts, &next, &d.LastError, &createdAt, &updatedAt); err != nil {
		return webhook.Delivery{}, err
	}
	d.Status = webhook.Status(status)
	d.NextAttemptAt = fromMicros(next)
	d.CreatedAt = fromMicros(createdAt)
	d.UpdatedAt = fromMicros(updatedAt)
	return d, nil
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
	rows, err := s.read.QueryContext(ctx, `SELECT id, delivery_id, number, started_at, duration_us, status_code, response_body, error
		FROM attempts WHERE delivery_id = ? ORDER BY number, id`, deliveryID)
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
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.Number, &startedAt, &duration, &a.StatusCode, &a.ResponseBody, &a.Error); err != nil {
			return nil, fmt.Errorf("sqlite: scan attempt: %w", err)
		}
		a.StartedAt = fromMicros(startedAt)
		a.Duration = time.Duration(duration) * time.Microsecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeliveryClaimDue implements store.Store.
func (s *Store) DeliveryClaimDue(ctx context.Context, p store.DeliveryClaimParams) (_ store.DeliveryClaimResult, err error) {
	var result store.DeliveryClaimResult
	now := micros(p.Now)
	tx, err := s.begin(ctx, false)
	if err != nil {
		return result, fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()

	var picked []webhook.Delivery
	collect := func(rows *sql.Rows, err error) error {
		if err != nil {
			return fmt.Errorf("sqlite: select due: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return fmt.Errorf("sqlite: scan due: %w", err)
			}
			picked = append(picked, d)
		}
		return rows.Err()
	}
	claimDue, nextDue := tx.stmt(s.st.claimDue), tx.stmt(s.st.nextDue)
	var next int64
	for _, q := range p.Quotas {
		limit := min(q.Limit, p.Limit-len(picked))
		if limit <= 0 {
			if q.Limit > 0 && (next == 0 || now < next) {
				next = now // not looked at: may be due
			}
			continue
		}
		before := len(picked)
		if err := collect(claimDue.QueryContext(ctx, q.Destination, now, limit)); err != nil {
			return result, err
		}
		if len(picked)-before < limit {
			// Nothing more is due now for this destination: when is?
			var at sql.NullInt64
			if err := nextDue.QueryRowContext(ctx, q.Destination).Scan(&at); err != nil {
				return result, fmt.Errorf("sqlite: next due: %w", err)
			}
			if at.Valid && at.Int64 > now && (next == 0 || at.Int64 < next) {
				next = at.Int64
			}
		} else if next == 0 || now < next {
			next = now // more may be due right away
		}
	}
	if others := min(p.Others, p.Limit-len(picked)); others > 0 {
		known := make([]string, 0, len(p.Quotas))
		for _, q := range p.Quotas {
			known = append(known, q.Destination)
		}
		list, _ := json.Marshal(known) // a []string always marshals
		if err := collect(tx.stmt(s.st.claimOthers).QueryContext(ctx, now, string(list), others)); err != nil {
			return result, err
		}
	}

	if len(picked) > 0 {
		lease, load := tx.stmt(s.st.lease), tx.stmt(s.st.eventForSend)
		events := map[string]webhook.Event{}
		result.Jobs = make([]webhook.Job, 0, len(picked))
		for _, d := range picked {
			if _, err := lease.ExecContext(ctx, micros(p.LeaseUntil), p.LeaseToken, d.ID); err != nil {
				return result, fmt.Errorf("sqlite: lease: %w", err)
			}
			ev, ok := events[d.EventID]
			if !ok {
				// Headers are left out: sending does not need them.
				var receivedAt int64
				var status string
				if err := load.QueryRowContext(ctx, d.EventID).Scan(&ev.ID, &ev.Source, &ev.Type, &ev.Body, &ev.ContentType, &receivedAt, &status); err != nil {
					return result, fmt.Errorf("sqlite: delivery %s: load event %s: %w", d.ID, d.EventID, err)
				}
				ev.ReceivedAt, ev.Status = fromMicros(receivedAt), webhook.Status(status)
				events[d.EventID] = ev
			}
			result.Jobs = append(result.Jobs, webhook.Job{Delivery: d, Event: ev})
		}
	}
	result.NextDueAt = fromMicros(next)
	if err := tx.Commit(); err != nil {
		return result, fmt.Errorf("sqlite: commit claim: %w", err)
	}
	return result, nil
}

// DeliveryRecordAttempts implements store.Store.
func (s *Store) DeliveryRecordAttempts(ctx context.Context, params []store.AttemptRecordParams) (err error) {
	if len(params) == 0 {
		return nil
	}
	tx, err := s.begin(ctx, false)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	insAttempt, updDelivery := tx.stmt(s.st.insertAttempt), tx.stmt(s.st.recordDelivery)

	events := map[string]bool{}
	for _, p := range params {
		a := p.Attempt
		if _, err := insAttempt.ExecContext(ctx, a.ID, a.DeliveryID, a.Number, micros(a.StartedAt), a.Duration.Microseconds(), a.StatusCode, a.ResponseBody, a.Error); err != nil {
			return fmt.Errorf("sqlite: insert attempt: %w", err)
		}
		next := micros(p.NextAttemptAt)
		if p.Status.Terminal() {
			next = micros(p.UpdatedAt)
		}
		if _, err := updDelivery.ExecContext(ctx, string(p.Status), a.Number, next, a.Error, micros(p.UpdatedAt), a.DeliveryID, p.LeaseToken); err != nil {
			return fmt.Errorf("sqlite: update delivery: %w", err)
		}
		events[p.EventID] = true
	}
	count, set := tx.stmt(s.st.countByStatus), tx.stmt(s.st.setEventStatus)
	for id := range events {
		if err := refreshEventStatus(ctx, count, set, id); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit attempts: %w", err)
	}
	return nil
}

// refreshEventStatus derives an event's status from its deliveries with
// webhook.DeriveEventStatus, so the rule lives in one place.
func refreshEventStatus(ctx context.Context, count, set *sql.Stmt, eventID string) error {
	rows, err := count.QueryContext(ctx, eventID)
	if err != nil {
		return fmt.Errorf("sqlite: count deliveries: %w", err)
	}
	counts := map[webhook.Status]int{}
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: scan counts: %w", err)
		}
		counts[webhook.Status(status)] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: read counts: %w", err)
	}
	status := webhook.DeriveEventStatus(counts)
	if _, err := set.ExecContext(ctx, string(status), eventID, string(status)); err != nil {
		return fmt.Errorf("sqlite: update event status: %w", err)
	}
	return nil
}

// DeliveryReleaseLeases implements store.Store.
func (s *Store) DeliveryReleaseLeases(ctx context.Context, params []store.LeaseReleaseParams) (err error) {
	if len(params) == 0 {
		return nil
	}
	tx, err := s.begin(ctx, false)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	release := tx.stmt(s.st.release)
	for _, p := range params {
		if _, err := release.ExecContext(ctx, micros(p.DueAt), p.DeliveryID, p.LeaseToken); err != nil {
			return fmt.Errorf("sqlite: release lease: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit release: %w", err)
	}
	return nil
}

// DeliveryReleaseAllLeases implements store.Exclusive: the file lock proves
// that whoever held these leases is gone.
func (s *Store) DeliveryReleaseAllLeases(ctx context.Context, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, `UPDATE deliveries SET lease_token = NULL, next_attempt_at = ?
		WHERE lease_token IS NOT NULL AND status IN ('pending', 'failed')`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: release all leases: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
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

// SettingPutIfAbsent implements store.Store.
func (s *Store) SettingPutIfAbsent(ctx context.Context, key, value string) (string, error) {
	var v string
	err := s.write.QueryRowContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = settings.value RETURNING value`, key, value).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("sqlite: put setting: %w", err)
	}
	return v, nil
}
