package postgres

import (
	"context"
	"database/sql"
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

// EventImportMany implements store.Store in one statement: the events go
// in through unnest() of array parameters with ON CONFLICT DO NOTHING, and
// only the deliveries of the events actually inserted, and the attempts of
// those deliveries, follow them (data-modifying CTEs). One round trip per
// batch, not one per row.
func (s *Store) EventImportMany(ctx context.Context, records []store.EventRecord) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	if len(records) == 0 {
		return 0, nil
	}
	var (
		evIDs, sources, types, contentTypes, headers, statuses []string
		bodies                                                 [][]byte
		bodySizes                                              []*int64
		keys                                                   []*string
		received                                               []time.Time
		dIDs, dEvents, dDests, dStatuses, dErrors              []string
		dAttempts                                              []int32
		dNext, dCreated, dUpdated                              []time.Time
		aIDs, aDeliveries, aErrors                             []string
		dReasons, aReasons                                     []string
		aNumbers, aCodes                                       []int32
		aStarted                                               []time.Time
		aDurations                                             []int64
		aBodies                                                [][]byte
	)
	for _, r := range records {
		ev := r.Event
		h := []byte("{}")
		if ev.Headers != nil {
			var err error
			if h, err = json.Marshal(ev.Headers); err != nil {
				return 0, fmt.Errorf("postgres: encode headers: %w", err)
			}
		}
		body, size := store.CompressBody(ev.Body, s.compressOver)
		if body == nil {
			body = []byte{}
		}
		var sizePtr *int64
		if size.Valid {
			sizePtr = &size.Int64
		}
		bodySizes = append(bodySizes, sizePtr)
		evIDs, sources, types, contentTypes = append(evIDs, ev.ID), append(sources, ev.Source), append(types, ev.Type), append(contentTypes, ev.ContentType)
		headers, statuses, bodies = append(headers, string(h)), append(statuses, string(ev.Status)), append(bodies, body)
		keys, received = append(keys, nullString(ev.IdempotencyKey)), append(received, ev.ReceivedAt.UTC())
		for _, dr := range r.Deliveries {
			d := dr.Delivery
			dIDs, dEvents, dDests, dStatuses, dErrors = append(dIDs, d.ID), append(dEvents, ev.ID), append(dDests, d.Destination), append(dStatuses, string(d.Status)), append(dErrors, d.LastError)
			dAttempts, dReasons = append(dAttempts, int32(d.Attempts)), append(dReasons, string(d.LastReason))
			dNext, dCreated, dUpdated = append(dNext, d.NextAttemptAt.UTC()), append(dCreated, d.CreatedAt.UTC()), append(dUpdated, d.UpdatedAt.UTC())
			for _, a := range dr.Attempts {
				aIDs, aDeliveries, aErrors = append(aIDs, a.ID), append(aDeliveries, d.ID), append(aErrors, a.Error)
				aReasons = append(aReasons, string(a.Reason))
				aNumbers, aCodes = append(aNumbers, int32(a.Number)), append(aCodes, int32(a.StatusCode))
				aStarted, aDurations, aBodies = append(aStarted, a.StartedAt.UTC()), append(aDurations, a.Duration.Microseconds()), append(aBodies, a.ResponseBody)
			}
		}
	}
	var stored int64
	err := retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `WITH ev AS (
			INSERT INTO events (id, source, type, body, content_type, headers, idempotency_key, received_at, status, body_size)
			SELECT id, source, type, body, ct, h::jsonb, k, r, st, bs
			FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::text[], $27::int[])
				AS t(id, source, type, body, ct, h, k, r, st, bs)
			ON CONFLICT DO NOTHING RETURNING id
		), dl AS (
			INSERT INTO deliveries (id, event_id, destination, status, attempts, next_attempt_at, last_error, created_at, updated_at, last_reason)
			SELECT id, event_id, dest, st, n, next, err, c, u, reason
			FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::int[], $15::timestamptz[], $16::text[], $17::timestamptz[], $18::timestamptz[], $28::text[])
				AS d(id, event_id, dest, st, n, next, err, c, u, reason)
			WHERE event_id IN (SELECT id FROM ev)
			ON CONFLICT DO NOTHING RETURNING id
		), at AS (
			INSERT INTO attempts (id, delivery_id, number, started_at, duration_us, status_code, response_body, error, reason)
			SELECT id, did, num, started, dur, code, body, err, reason
			FROM unnest($19::text[], $20::text[], $21::int[], $22::timestamptz[], $23::bigint[], $24::int[], $25::bytea[], $26::text[], $29::text[])
				AS a(id, did, num, started, dur, code, body, err, reason)
			WHERE did IN (SELECT id FROM dl)
			ON CONFLICT DO NOTHING
		)
		SELECT COUNT(*) FROM ev`,
			evIDs, sources, types, bodies, contentTypes, headers, keys, received, statuses,
			dIDs, dEvents, dDests, dStatuses, dAttempts, dNext, dErrors, dCreated, dUpdated,
			aIDs, aDeliveries, aNumbers, aStarted, aDurations, aCodes, aBodies, aErrors, bodySizes,
			dReasons, aReasons,
		).Scan(&stored)
	})
	if err != nil {
		return 0, s.fail("import events", err)
	}
	return int(stored), nil
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

// EventRecordList implements store.Store with three queries (events,
// their deliveries, their attempts) in one read-only REPEATABLE READ
// transaction, so that a retention batch committing meanwhile cannot split
// a record.
func (s *Store) EventRecordList(ctx context.Context, p store.EventListParams) ([]store.EventRecord, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []store.EventRecord
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		out = nil
		var a args
		where := eventFilter(p, &a)
		rows, err := tx.Query(ctx, `SELECT e.id, e.source, e.type, e.body, e.body_size, e.content_type, e.headers, e.idempotency_key, e.received_at, e.status
			FROM events e`+where+` ORDER BY e.id DESC LIMIT `+a.add(limit), a...)
		if err != nil {
			return err
		}
		events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Event, error) {
			var (
				ev     webhook.Event
				idem   *string
				status string
				size   sql.NullInt64
				err    error
			)
			if err := row.Scan(&ev.ID, &ev.Source, &ev.Type, &ev.Body, &size, &ev.ContentType, &ev.Headers, &idem, &ev.ReceivedAt, &status); err != nil {
				return ev, err
			}
			if ev.Body, err = store.ExpandBody(ev.Body, size); err != nil {
				return ev, fmt.Errorf("event %s: %w", ev.ID, err)
			}
			if idem != nil {
				ev.IdempotencyKey = *idem
			}
			ev.ReceivedAt, ev.Status = utc(ev.ReceivedAt), webhook.Status(status)
			return ev, nil
		})
		if err != nil || len(events) == 0 {
			return err
		}
		index := map[string]int{}
		eventIDs := make([]string, len(events))
		for i, ev := range events {
			index[ev.ID], eventIDs[i] = i, ev.ID
			out = append(out, store.EventRecord{Event: ev})
		}
		rows, err = tx.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE event_id = ANY($1) ORDER BY event_id, id`, eventIDs)
		if err != nil {
			return err
		}
		deliveries, err := pgx.CollectRows(rows, scanDelivery)
		if err != nil || len(deliveries) == 0 {
			return err
		}
		type at struct{ event, delivery int }
		where2 := map[string]at{}
		deliveryIDs := make([]string, len(deliveries))
		for j, d := range deliveries {
			i := index[d.EventID]
			where2[d.ID] = at{i, len(out[i].Deliveries)}
			deliveryIDs[j] = d.ID
			out[i].Deliveries = append(out[i].Deliveries, store.DeliveryRecord{Delivery: d})
		}
		rows, err = tx.Query(ctx, `SELECT id, delivery_id, number, started_at, duration_us, status_code, response_body, error, reason
			FROM attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, started_at, id`, deliveryIDs)
		if err != nil {
			return err
		}
		attempts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Attempt, error) {
			var (
				a        webhook.Attempt
				duration int64
			)
			if err := row.Scan(&a.ID, &a.DeliveryID, &a.Number, &a.StartedAt, &duration, &a.StatusCode, &a.ResponseBody, &a.Error, &a.Reason); err != nil {
				return a, err
			}
			a.StartedAt, a.Duration = utc(a.StartedAt), time.Duration(duration)*time.Microsecond
			return a, nil
		})
		if err != nil {
			return err
		}
		for _, a := range attempts {
			w := where2[a.DeliveryID]
			dr := &out[w.event].Deliveries[w.delivery]
			dr.Attempts = append(dr.Attempts, a)
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("list records", err)
	}
	return out, nil
}
