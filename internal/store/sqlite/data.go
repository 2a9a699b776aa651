package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Data care: retention, import and usage.

// EventDeleteFinished implements store.Store. The batch runs as one piece
// of the writer's shared transaction, so ingest waits at most for one
// batch, never for a whole retention pass. It commits without a full fsync:
// a power cut can only bring back rows that the next pass deletes again.
// Deliveries and attempts go by ON DELETE CASCADE.
func (s *Store) EventDeleteFinished(ctx context.Context, p store.EventDeleteFinishedParams) (int, error) {
	if p.Limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.inWrite(ctx, false, func(tx writeTx) error {
		res, err := tx.ExecContext(tx.ctx, `DELETE FROM events WHERE id IN (
			SELECT e.id FROM events e INDEXED BY events_received_at
			WHERE e.received_at < ? AND e.status IN ('success', 'permanent_failure')
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'failed'))
			ORDER BY e.received_at LIMIT ?)`, micros(p.Before), p.Limit)
		if err != nil {
			return fmt.Errorf("sqlite: delete finished events: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// EventImportMany implements store.Store, in one durable transaction.
func (s *Store) EventImportMany(ctx context.Context, records []store.EventRecord) (int, error) {
	if len(records) == 0 {
		return 0, nil
	}
	stored := 0
	err := s.inWrite(ctx, true, func(tx writeTx) error {
		stored = 0
		for _, r := range records {
			ok, err := s.importRecord(tx, r)
			if err != nil {
				return err
			}
			if ok {
				stored++
			}
		}
		return nil
	})
	return stored, err
}

func (s *Store) importRecord(tx writeTx, r store.EventRecord) (bool, error) {
	ev := r.Event
	headers, err := json.Marshal(ev.Headers)
	if err != nil {
		return false, fmt.Errorf("sqlite: encode headers: %w", err)
	}
	if ev.Headers == nil {
		headers = []byte("{}")
	}
	var idem any
	if ev.IdempotencyKey != "" {
		idem = ev.IdempotencyKey
	}
	body, size := store.CompressBody(ev.Body, s.compressOver)
	if body == nil {
		body = []byte{}
	}
	res, err := tx.ExecContext(tx.ctx, `INSERT INTO events
		(id, source, type, body, body_size, content_type, headers, idempotency_key, received_at, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		ev.ID, ev.Source, ev.Type, body, size, ev.ContentType, string(headers), idem, micros(ev.ReceivedAt), string(ev.Status))
	if err != nil {
		return false, fmt.Errorf("sqlite: import event %s: %w", ev.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	for _, dr := range r.Deliveries {
		d := dr.Delivery
		if _, err := tx.ExecContext(tx.ctx, `INSERT INTO deliveries
			(id, event_id, destination, status, attempts, next_attempt_at, last_error, last_reason, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			d.ID, ev.ID, d.Destination, string(d.Status), d.Attempts, micros(d.NextAttemptAt), d.LastError, string(d.LastReason), micros(d.CreatedAt), micros(d.UpdatedAt)); err != nil {
			return false, fmt.Errorf("sqlite: import delivery %s: %w", d.ID, err)
		}
		for _, a := range dr.Attempts {
			if _, err := tx.ExecContext(tx.ctx, `INSERT INTO attempts
				(id, delivery_id, number, started_at, duration_us, status_code, response_body, error, reason)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				a.ID, d.ID, a.Number, micros(a.StartedAt), a.Duration.Microseconds(), a.StatusCode, a.ResponseBody, a.Error, string(a.Reason)); err != nil {
				return false, fmt.Errorf("sqlite: import attempt %s: %w", a.ID, err)
			}
		}
	}
	return true, nil
}

// UsageGet implements store.Store. The size is the database file plus its
// write-ahead log, which holds recent commits until a checkpoint.
func (s *Store) UsageGet(ctx context.Context) (store.Usage, error) {
	u := store.Usage{Events: map[webhook.Status]int64{}, Deliveries: map[webhook.Status]int64{}}
	for _, f := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return u, fmt.Errorf("sqlite: size: %w", err)
		}
		u.SizeBytes += fi.Size()
	}
	count := func(query string, into map[webhook.Status]int64) error {
		rows, err := s.read.QueryContext(ctx, query)
		if err != nil {
			return fmt.Errorf("sqlite: usage: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				status string
				n      int64
			)
			if err := rows.Scan(&status, &n); err != nil {
				return fmt.Errorf("sqlite: usage: %w", err)
			}
			into[webhook.Status(status)] = n
		}
		return rows.Err()
	}
	if err := count(`SELECT status, COUNT(*) FROM events GROUP BY status`, u.Events); err != nil {
		return u, err
	}
	if err := count(`SELECT status, COUNT(*) FROM deliveries GROUP BY status`, u.Deliveries); err != nil {
		return u, err
	}
	var oldest sql.NullInt64
	if err := s.read.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM attempts), (SELECT MIN(received_at) FROM events)`).Scan(&u.Attempts, &oldest); err != nil {
		return u, fmt.Errorf("sqlite: usage: %w", err)
	}
	u.OldestEvent = fromMicros(oldest.Int64)
	return u, nil
}

// EventRecordList implements store.Store with three queries (events,
// their deliveries, their attempts) in one read transaction, so that a
// retention batch committing meanwhile cannot split a record.
func (s *Store) EventRecordList(ctx context.Context, p store.EventListParams) (out []store.EventRecord, err error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin read: %w", err)
	}
	defer tx.Rollback()
	where, args := eventFilter(p)
	rows, err := tx.QueryContext(ctx, `SELECT e.id, e.source, e.type, e.body, e.body_size, e.content_type, e.headers, e.idempotency_key, e.received_at, e.status
		FROM events e`+where+` ORDER BY e.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list records: %w", err)
	}
	index := map[string]int{}
	var eventIDs []string
	for rows.Next() {
		var (
			ev         webhook.Event
			headers    string
			idem       sql.NullString
			receivedAt int64
			status     string
			size       sql.NullInt64
		)
		if err := rows.Scan(&ev.ID, &ev.Source, &ev.Type, &ev.Body, &size, &ev.ContentType, &headers, &idem, &receivedAt, &status); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: scan record: %w", err)
		}
		if ev.Body, err = store.ExpandBody(ev.Body, size); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: event %s: %w", ev.ID, err)
		}
		if err := json.Unmarshal([]byte(headers), &ev.Headers); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: decode headers: %w", err)
		}
		ev.IdempotencyKey, ev.ReceivedAt, ev.Status = idem.String, fromMicros(receivedAt), webhook.Status(status)
		index[ev.ID] = len(out)
		eventIDs = append(eventIDs, ev.ID)
		out = append(out, store.EventRecord{Event: ev})
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	idsJSON, _ := json.Marshal(eventIDs)
	drows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY event_id, id`, string(idsJSON))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list record deliveries: %w", err)
	}
	type at struct{ event, delivery int }
	where2 := map[string]at{}
	var deliveryIDs []string
	for drows.Next() {
		d, err := scanDelivery(drows)
		if err != nil {
			drows.Close()
			return nil, fmt.Errorf("sqlite: scan delivery: %w", err)
		}
		i := index[d.EventID]
		where2[d.ID] = at{i, len(out[i].Deliveries)}
		deliveryIDs = append(deliveryIDs, d.ID)
		out[i].Deliveries = append(out[i].Deliveries, store.DeliveryRecord{Delivery: d})
	}
	drows.Close()
	if err := drows.Err(); err != nil || len(deliveryIDs) == 0 {
		return out, err
	}
	idsJSON, _ = json.Marshal(deliveryIDs)
	arows, err := tx.QueryContext(ctx, `SELECT id, delivery_id, number, started_at, duration_us, status_code, response_body, error, reason
		FROM attempts WHERE delivery_id IN (SELECT value FROM json_each(?)) ORDER BY delivery_id, started_at, id`, string(idsJSON))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list record attempts: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var (
			a                   webhook.Attempt
			startedAt, duration int64
		)
		if err := arows.Scan(&a.ID, &a.DeliveryID, &a.Number, &startedAt, &duration, &a.StatusCode, &a.ResponseBody, &a.Error, &a.Reason); err != nil {
			return nil, fmt.Errorf("sqlite: scan attempt: %w", err)
		}
		a.StartedAt, a.Duration = fromMicros(startedAt), time.Duration(duration)*time.Microsecond
		w := where2[a.DeliveryID]
		dr := &out[w.event].Deliveries[w.delivery]
		dr.Attempts = append(dr.Attempts, a)
	}
	return out, arows.Err()
}
