package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Data care: retention, import and usage.

// EventDeleteFinished implements store.Store. The rows to delete are
// locked FOR UPDATE SKIP LOCKED, so processes running retention at once
// take different batches instead of waiting for each other. Locking the
// event also holds back a replay or requeue of it (both lock the event
// first); one that committed before is seen by the re-check of the locked
// row, and the event is left alone. Deliveries and attempts go by ON
// DELETE CASCADE. The commit does not wait for the WAL flush: a database
// crash can only bring back rows that the next pass deletes again.
func (s *Store) EventDeleteFinished(ctx context.Context, p store.EventDeleteFinishedParams) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	if p.Limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE id IN (
			SELECT e.id FROM events e
			WHERE e.received_at < $1 AND e.status IN ('success', 'permanent_failure')
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'failed'))
			ORDER BY e.received_at LIMIT $2
			FOR UPDATE SKIP LOCKED)`, p.Before.UTC(), p.Limit)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, s.fail("delete finished events", err)
	}
	return int(n), nil
}

// EventImportMany implements store.Store, in one transaction.
func (s *Store) EventImportMany(ctx context.Context, records []store.EventRecord) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	if len(records) == 0 {
		return 0, nil
	}
	stored := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		stored = 0
		for _, r := range records {
			ok, err := importRecord(ctx, tx, r)
			if err != nil {
				return err
			}
			if ok {
				stored++
			}
		}
		return nil
	})
	if err != nil {
		return 0, s.fail("import events", err)
	}
	return stored, nil
}

func importRecord(ctx context.Context, tx pgx.Tx, r store.EventRecord) (bool, error) {
	ev := r.Event
	headers := []byte("{}")
	if ev.Headers != nil {
		var err error
		if headers, err = json.Marshal(ev.Headers); err != nil {
			return false, fmt.Errorf("encode headers: %w", err)
		}
	}
	body := ev.Body
	if body == nil {
		body = []byte{}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO events
		(id, source, type, body, content_type, headers, idempotency_key, received_at, status)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9) ON CONFLICT DO NOTHING`,
		ev.ID, ev.Source, ev.Type, body, ev.ContentType, string(headers), nullString(ev.IdempotencyKey), ev.ReceivedAt.UTC(), string(ev.Status))
	if err != nil {
		return false, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	for _, dr := range r.Deliveries {
		d := dr.Delivery
		if _, err := tx.Exec(ctx, `INSERT INTO deliveries
			(id, event_id, destination, status, attempts, next_attempt_at, last_error, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
			d.ID, ev.ID, d.Destination, string(d.Status), d.Attempts, d.NextAttemptAt.UTC(), d.LastError, d.CreatedAt.UTC(), d.UpdatedAt.UTC()); err != nil {
			return false, fmt.Errorf("delivery %s: %w", d.ID, err)
		}
		for _, a := range dr.Attempts {
			if _, err := tx.Exec(ctx, `INSERT INTO attempts
				(id, delivery_id, number, started_at, duration_us, status_code, response_body, error)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
				a.ID, d.ID, a.Number, a.StartedAt.UTC(), a.Duration.Microseconds(), a.StatusCode, a.ResponseBody, a.Error); err != nil {
				return false, fmt.Errorf("attempt %s: %w", a.ID, err)
			}
		}
	}
	return true, nil
}

// UsageGet implements store.Store. The size is pg_total_relation_size
// (table, indexes, TOAST) of every table in hookd's schema, the first of
// the connection's search_path.
func (s *Store) UsageGet(ctx context.Context) (store.Usage, error) {
	u := store.Usage{Events: map[webhook.Status]int64{}, Deliveries: map[webhook.Status]int64{}}
	if err := s.open(); err != nil {
		return u, err
	}
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&u.SizeBytes); err != nil {
		return u, s.fail("usage size", err)
	}
	count := func(query string, into map[webhook.Status]int64) error {
		rows, err := s.pool.Query(ctx, query)
		if err != nil {
			return s.fail("usage", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				status string
				n      int64
			)
			if err := rows.Scan(&status, &n); err != nil {
				return s.fail("usage", err)
			}
			into[webhook.Status(status)] = n
		}
		if err := rows.Err(); err != nil {
			return s.fail("usage", err)
		}
		return nil
	}
	if err := count(`SELECT status, COUNT(*) FROM events GROUP BY status`, u.Events); err != nil {
		return u, err
	}
	if err := count(`SELECT status, COUNT(*) FROM deliveries GROUP BY status`, u.Deliveries); err != nil {
		return u, err
	}
	var oldest *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM attempts), (SELECT MIN(received_at) FROM events)`).Scan(&u.Attempts, &oldest); err != nil {
		return u, s.fail("usage", err)
	}
	u.OldestEvent = fromNullTime(oldest)
	return u, nil
}
