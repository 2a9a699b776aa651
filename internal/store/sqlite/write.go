package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// The write path. SQLite has one writer, and a durable commit costs an
// fsync that takes far longer than the statements before it. So every write
// method hands its work to one writer goroutine, which runs whatever work is
// waiting — event inserts, claims, attempt records, releases, from any
// caller — in one transaction, each piece inside its own savepoint so that
// one failing piece does not undo the others. One commit, and at most one
// fsync, serves them all: group commit across kinds of work.
//
// Durability: a transaction that holds an event insert commits with
// synchronous=FULL (fsynced; survives a power cut), because a 202 promises
// it. Transactions of claims, releases and attempt records alone commit
// with NORMAL: in WAL mode they survive a process crash (kill -9) all the
// same, and the next FULL commit syncs them too; a power cut in between can
// only undo a lease or an attempt record, which means one more attempt,
// never a lost event.

// maxOpsPerTx bounds how much work one transaction carries, so that one
// commit does not keep early callers waiting for long.
const maxOpsPerTx = 64

// writeOp is one caller's piece of a shared transaction.
type writeOp struct {
	ctx     context.Context
	durable bool
	fn      func(tx writeTx) error
	done    chan error
}

// writeTx is the shared write transaction with the prepared statements
// bound to it.
type writeTx struct {
	*sql.Tx
	ctx context.Context
}

// stmt binds a prepared statement to the transaction; database/sql reuses
// the statement already prepared on the (single) writer connection.
func (t writeTx) stmt(st *sql.Stmt) *sql.Stmt { return t.Tx.StmtContext(t.ctx, st) }

// inWrite runs fn in the next shared transaction and returns once that
// transaction has committed (nil) or failed. fn must not keep tx.
func (s *Store) inWrite(ctx context.Context, durable bool, fn func(tx writeTx) error) error {
	op := &writeOp{ctx: ctx, durable: durable, fn: fn, done: make(chan error, 1)}
	select {
	case s.ops <- op:
	case <-s.stopping:
		return fmt.Errorf("sqlite: %w", webhook.ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the op runs; wait for its outcome even if ctx ends, so
	// that a caller never mistakes a committed write for a failed one. If
	// the writer ended first (Close raced with the send), the op never ran.
	select {
	case err := <-op.done:
		return err
	case <-s.writerDone:
		select {
		case err := <-op.done:
			return err
		default:
			return fmt.Errorf("sqlite: %w", webhook.ErrClosed)
		}
	}
}

// writer is the single goroutine that owns write transactions.
func (s *Store) writer() {
	defer close(s.writerDone)
	ops := make([]*writeOp, 0, maxOpsPerTx)
	for {
		var first *writeOp
		select {
		case first = <-s.ops:
		case <-s.stopping:
			// Finish what was queued before Close.
			select {
			case first = <-s.ops:
			default:
				return
			}
		}
		ops = append(ops[:0], first)
	drain:
		for len(ops) < maxOpsPerTx {
			select {
			case op := <-s.ops:
				ops = append(ops, op)
			default:
				break drain
			}
		}
		s.runTx(ops)
	}
}

// runTx runs ops in one transaction and reports to each.
func (s *Store) runTx(ops []*writeOp) {
	ctx := context.Background() // one caller's cancellation must not break the others' transaction
	errs := make([]error, len(ops))
	durable := false
	for i, op := range ops {
		if err := op.ctx.Err(); err != nil {
			errs[i] = err // gave up before it started: skip it
			continue
		}
		durable = durable || op.durable
	}
	finish := func(err error) {
		for i, op := range ops {
			if errs[i] == nil {
				errs[i] = err
			}
			op.done <- errs[i]
		}
	}
	if err := s.setSynchronous(ctx, durable); err != nil {
		finish(fmt.Errorf("sqlite: set synchronous: %w", err))
		return
	}
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		s.syncSet = false // the connection may have been replaced
		finish(fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	tx := writeTx{Tx: sqlTx, ctx: ctx}
	single := len(ops) == 1
	for i, op := range ops {
		if errs[i] != nil {
			continue
		}
		if single {
			errs[i] = op.fn(tx)
			continue
		}
		if _, err := tx.stmt(s.st.savepoint).ExecContext(ctx); err != nil {
			errs[i] = fmt.Errorf("sqlite: savepoint: %w", err)
			continue
		}
		if errs[i] = op.fn(tx); errs[i] != nil {
			if _, err := tx.stmt(s.st.rollbackTo).ExecContext(ctx); err != nil {
				sqlTx.Rollback()
				finish(fmt.Errorf("sqlite: rollback to savepoint: %w (after %w)", err, errs[i]))
				return
			}
		}
		if _, err := tx.stmt(s.st.release).ExecContext(ctx); err != nil {
			sqlTx.Rollback()
			finish(fmt.Errorf("sqlite: release savepoint: %w", err))
			return
		}
	}
	if single && errs[0] != nil {
		sqlTx.Rollback()
		finish(nil)
		return
	}
	if err := sqlTx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
	finish(nil)
}

// setSynchronous sets the writer connection's synchronous level, which
// SQLite allows only outside a transaction.
func (s *Store) setSynchronous(ctx context.Context, durable bool) error {
	if s.syncSet && s.syncFull == durable {
		return nil
	}
	st := s.st.syncNormal
	if durable {
		st = s.st.syncFull
	}
	if _, err := st.ExecContext(ctx); err != nil {
		s.syncSet = false
		return err
	}
	s.syncSet, s.syncFull = true, durable
	return nil
}

// EventInsertMany implements store.Store.
func (s *Store) EventInsertMany(ctx context.Context, params []store.EventInsertParams) ([]store.EventInsertResult, error) {
	var results []store.EventInsertResult
	// Compress here, in the caller's goroutine, not in the single writer.
	bodies := make([]storedBody, len(params))
	for i, p := range params {
		bodies[i].data, bodies[i].size = store.CompressBody(p.Event.Body, s.compressOver)
	}
	err := s.inWrite(ctx, true, func(tx writeTx) error {
		var err error
		results, err = s.eventInsertMany(tx, params, bodies)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// storedBody is an event body as it goes into the database.
type storedBody struct {
	data []byte
	size sql.NullInt64
}

func (s *Store) eventInsertMany(tx writeTx, params []store.EventInsertParams, bodies []storedBody) ([]store.EventInsertResult, error) {
	ctx := tx.ctx
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
		body := bodies[i].data
		if body == nil {
			body = []byte{}
		}
		res, err := insEvent.ExecContext(ctx, ev.ID, ev.Source, ev.Type, body, bodies[i].size, ev.ContentType, string(headers), idem, micros(ev.ReceivedAt), string(ev.Status))
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
			if err := s.orderInsert(tx, d); err != nil {
				return nil, err
			}
		}
		results[i] = store.EventInsertResult{ID: ev.ID, Status: ev.Status}
	}
	return results, nil
}

// DeliveryClaimDue implements store.Store.
func (s *Store) DeliveryClaimDue(ctx context.Context, p store.DeliveryClaimParams) (store.DeliveryClaimResult, error) {
	var result store.DeliveryClaimResult
	err := s.inWrite(ctx, false, func(tx writeTx) error {
		var err error
		result, err = s.deliveryClaimDue(tx, p)
		return err
	})
	if err != nil {
		return store.DeliveryClaimResult{}, err
	}
	return result, nil
}

func (s *Store) deliveryClaimDue(tx writeTx, p store.DeliveryClaimParams) (store.DeliveryClaimResult, error) {
	ctx := tx.ctx
	var result store.DeliveryClaimResult
	now := micros(p.Now)
	var jobs []webhook.Job
	collect := func(rows *sql.Rows, err error) error {
		if err != nil {
			return fmt.Errorf("sqlite: select due: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			job, err := scanJob(rows)
			if err != nil {
				return fmt.Errorf("sqlite: scan due: %w", err)
			}
			jobs = append(jobs, job)
		}
		return rows.Err()
	}
	claimDue := tx.stmt(s.st.claimDue)
	var next int64
	var drained []string // destinations with nothing more due now
	for _, q := range p.Quotas {
		limit := min(q.Limit, p.Limit-len(jobs))
		if limit <= 0 {
			if q.Limit > 0 && (next == 0 || now < next) {
				next = now // not looked at: may be due
			}
			continue
		}
		before := len(jobs)
		if err := collect(claimDue.QueryContext(ctx, q.Destination, now, limit)); err != nil {
			return result, err
		}
		if len(jobs)-before < limit {
			drained = append(drained, q.Destination)
		} else if next == 0 || now < next {
			next = now // more may be due right away
		}
	}
	if others := min(p.Others, p.Limit-len(jobs)); others > 0 {
		known := make([]string, 0, len(p.Quotas))
		for _, q := range p.Quotas {
			known = append(known, q.Destination)
		}
		list, _ := json.Marshal(known) // a []string always marshals
		if err := collect(tx.stmt(s.st.claimOthers).QueryContext(ctx, now, string(list), others)); err != nil {
			return result, err
		}
	}

	jobs, blocked, err := s.orderJobs(tx, jobs, micros(p.LeaseUntil))
	if err != nil {
		return result, err
	}
	if len(blocked) > 0 && (next == 0 || now < next) {
		next = now // parked rows took the place of jobs that may be due
	}
	lease := tx.stmt(s.st.lease)
	for _, j := range jobs {
		if _, err := lease.ExecContext(ctx, micros(p.LeaseUntil), p.LeaseToken, j.Delivery.ID); err != nil {
			return result, fmt.Errorf("sqlite: lease: %w", err)
		}
	}
	result.Jobs = jobs
	// When is the next delivery of a drained destination due? Leased rows
	// do not count: their claimer reports back, and an expired lease is
	// found by the caller's periodic claim.
	nextDue := tx.stmt(s.st.nextDue)
	for _, dest := range drained {
		var at sql.NullInt64
		if err := nextDue.QueryRowContext(ctx, dest).Scan(&at); err != nil {
			return result, fmt.Errorf("sqlite: next due: %w", err)
		}
		if at.Valid && (next == 0 || at.Int64 < next) {
			next = max(at.Int64, now)
		}
	}
	result.NextDueAt = fromMicros(next)
	return result, nil
}

// DeliveryLeaseByID implements store.Store.
func (s *Store) DeliveryLeaseByID(ctx context.Context, p store.DeliveryLeaseByIDParams) ([]webhook.Job, error) {
	res, err := s.DeliveryLeaseByIDBlocked(ctx, p)
	return res.Jobs, err
}

// DeliveryLeaseByIDBlocked implements store.Store.
func (s *Store) DeliveryLeaseByIDBlocked(ctx context.Context, p store.DeliveryLeaseByIDParams) (store.DeliveryLeaseByIDResult, error) {
	if len(p.IDs) == 0 {
		return store.DeliveryLeaseByIDResult{}, nil
	}
	list, _ := json.Marshal(p.IDs) // a []string always marshals
	var jobs []webhook.Job
	var blocked []store.BlockedDelivery
	err := s.inWrite(ctx, false, func(tx writeTx) error {
		rows, err := tx.QueryContext(tx.ctx, `SELECT `+jobColumns+`
			FROM json_each(?) AS want JOIN deliveries d ON d.id = want.value JOIN events e ON e.id = d.event_id
			WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= ?
			ORDER BY want.key`, string(list), micros(p.Now))
		if err != nil {
			return fmt.Errorf("sqlite: select by id: %w", err)
		}
		jobs = nil
		seen := map[string]bool{}
		for rows.Next() {
			job, err := scanJob(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: scan job: %w", err)
			}
			if !seen[job.Delivery.ID] { // an id named twice is leased once
				seen[job.Delivery.ID] = true
				jobs = append(jobs, job)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if jobs, blocked, err = s.orderJobs(tx, jobs, micros(p.LeaseUntil)); err != nil {
			return err
		}
		lease := tx.stmt(s.st.lease)
		for _, j := range jobs {
			if _, err := lease.ExecContext(tx.ctx, micros(p.LeaseUntil), p.LeaseToken, j.Delivery.ID); err != nil {
				return fmt.Errorf("sqlite: lease: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return store.DeliveryLeaseByIDResult{}, err
	}
	return store.DeliveryLeaseByIDResult{Jobs: jobs, Blocked: blocked}, nil
}

// DeliveryRecordAttempts implements store.Store.
func (s *Store) DeliveryRecordAttempts(ctx context.Context, params []store.AttemptRecordParams) ([]webhook.Status, error) {
	if len(params) == 0 {
		return nil, nil
	}
	var statuses []webhook.Status
	err := s.inWrite(ctx, false, func(tx writeTx) error {
		var err error
		statuses, err = s.deliveryRecordAttempts(tx, params)
		return err
	})
	if err != nil {
		return nil, err
	}
	return statuses, nil
}

func (s *Store) deliveryRecordAttempts(tx writeTx, params []store.AttemptRecordParams) ([]webhook.Status, error) {
	ctx := tx.ctx
	insAttempt, updDelivery := tx.stmt(s.st.insertAttempt), tx.stmt(s.st.recordDelivery)
	events := map[string]webhook.Status{}
	for _, p := range params {
		a := p.Attempt
		if _, err := insAttempt.ExecContext(ctx, a.ID, a.DeliveryID, a.Number, micros(a.StartedAt), a.Duration.Microseconds(), a.StatusCode, a.ResponseBody, a.Error, string(a.Reason)); err != nil {
			return nil, fmt.Errorf("sqlite: insert attempt: %w", err)
		}
		next := micros(p.NextAttemptAt)
		if p.Status.Terminal() {
			next = micros(p.UpdatedAt)
		}
		if _, err := updDelivery.ExecContext(ctx, string(p.Status), a.Number, next, a.Error, string(a.Reason), micros(p.UpdatedAt), a.DeliveryID, p.LeaseToken); err != nil {
			return nil, fmt.Errorf("sqlite: update delivery: %w", err)
		}
		events[p.EventID] = ""
	}
	if err := s.unparkNext(tx, params); err != nil {
		return nil, err
	}
	for id := range events {
		status, err := s.derive(tx, id)
		if err != nil {
			return nil, err
		}
		events[id] = status
	}
	statuses := make([]webhook.Status, len(params))
	for i, p := range params {
		statuses[i] = events[p.EventID]
	}
	return statuses, nil
}

// deriveEventStatusSQL is webhook.DeriveEventStatus in one statement, so
// recording an attempt costs no extra round trip through the driver. The
// store suite's EventStatusDerived test holds the two to the same answers.
const deriveEventStatusSQL = `UPDATE events SET status = (
	SELECT CASE
		WHEN COUNT(*) = 0 OR SUM(status = 'success') = COUNT(*) THEN 'success'
		WHEN SUM(status = 'permanent_failure') > 0 AND SUM(status IN ('pending', 'failed')) = 0 THEN 'permanent_failure'
		WHEN SUM(status = 'failed') > 0 THEN 'failed'
		ELSE 'pending'
	END
	FROM deliveries WHERE event_id = ?1)
WHERE id = ?1
RETURNING status`

// DeliveryReleaseLeases implements store.Store.
func (s *Store) DeliveryReleaseLeases(ctx context.Context, params []store.LeaseReleaseParams) error {
	if len(params) == 0 {
		return nil
	}
	return s.inWrite(ctx, false, func(tx writeTx) error {
		release := tx.stmt(s.st.releaseLease)
		for _, p := range params {
			if _, err := release.ExecContext(tx.ctx, micros(p.DueAt), p.DeliveryID, p.LeaseToken); err != nil {
				return fmt.Errorf("sqlite: release lease: %w", err)
			}
		}
		return nil
	})
}

// DeliveryReleaseAllLeases implements store.Exclusive: the file lock proves
// that whoever held these leases is gone.
func (s *Store) DeliveryReleaseAllLeases(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.inWrite(ctx, false, func(tx writeTx) error {
		res, err := tx.ExecContext(tx.ctx, `UPDATE deliveries SET lease_token = NULL, next_attempt_at = ?
			WHERE lease_token IS NOT NULL AND status IN ('pending', 'failed')`, micros(now))
		if err != nil {
			return fmt.Errorf("sqlite: release all leases: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// SettingPutIfAbsent implements store.Store.
func (s *Store) SettingPutIfAbsent(ctx context.Context, key, value string) (string, error) {
	var v string
	err := s.inWrite(ctx, true, func(tx writeTx) error {
		return tx.QueryRowContext(tx.ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = settings.value RETURNING value`, key, value).Scan(&v)
	})
	if err != nil {
		return "", fmt.Errorf("sqlite: put setting: %w", err)
	}
	return v, nil
}
