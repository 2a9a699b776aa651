package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// The hot paths: ingest's event inserts and the delivery loop's claims,
// attempt records and lease releases. Each call is one batch, so one round
// trip and one transaction (see the package comment).

// insertEventsSQL stores a batch of events and their deliveries in one
// statement. An event whose (source, idempotency key) is taken is skipped
// (ON CONFLICT DO NOTHING) and not returned, and its deliveries, which are
// joined to the returned rows, are skipped with it. The foreign key from
// deliveries to events is checked at the end of the statement, when the
// event rows exist. Rows go in in array order, which the caller makes the
// (source, key) order, so that two batches holding the same keys take
// their locks in the same order and do not deadlock.
const insertEventsSQL = `WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::jsonb[], $7::text[], $8::timestamptz[], $9::text[], $16::int[])
		WITH ORDINALITY AS i (id, source, type, body, content_type, headers, idempotency_key, received_at, status, body_size, ord)
), event AS (
	INSERT INTO events (id, source, type, body, content_type, headers, idempotency_key, received_at, status, body_size)
	SELECT id, source, type, body, content_type, headers, idempotency_key, received_at, status, body_size FROM input ORDER BY ord
	ON CONFLICT (source, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
	RETURNING id
), seq AS (
	SELECT nextval('deliveries_ordering_seq') AS x
), dl AS (
	INSERT INTO deliveries (id, event_id, destination, status, attempts, next_attempt_at, created_at, updated_at, ordering_key, ordering_seq)
	SELECT d.id, d.event_id, d.destination, d.status, 0, d.next_attempt_at, d.created_at, d.created_at, d.ordering_key,
		CASE WHEN d.ordering_key IS NULL THEN NULL ELSE (SELECT x FROM seq) * 1048576 + d.place END
	FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[], $15::timestamptz[], $17::text[], $18::bigint[])
		AS d (id, event_id, destination, status, next_attempt_at, created_at, ordering_key, place)
	JOIN event ON event.id = d.event_id
)
SELECT id FROM event`

// firstEventsSQL finds the events holding idempotency keys. It runs as its
// own statement after the insert: in READ COMMITTED a statement sees what
// was committed before it started, so it finds the first event even when
// another transaction committed it while the insert waited on its lock.
const firstEventsSQL = `SELECT k.ord, e.id, e.status
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (source, idempotency_key, ord)
CROSS JOIN LATERAL (
	SELECT id, status FROM events
	WHERE source = k.source AND idempotency_key = k.idempotency_key AND idempotency_key IS NOT NULL
	LIMIT 1) e`

// EventInsertMany implements store.Store.
func (s *Store) EventInsertMany(ctx context.Context, params []store.EventInsertParams) ([]store.EventInsertResult, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	results := make([]store.EventInsertResult, len(params))
	if len(params) == 0 {
		return results, nil
	}
	// An event repeating a key given earlier in this batch is answered with
	// that earlier event's result, so that the statement only sees each key
	// once and which of two rows PostgreSQL inserts first does not matter.
	type key struct{ source, key string }
	firstOf := map[key]int{}
	repeatOf := make([]int, len(params)) // index of the first event with the key, or -1
	var unique []int                     // the events to send
	for i, p := range params {
		repeatOf[i] = -1
		if k := p.Event.IdempotencyKey; k != "" {
			if first, ok := firstOf[key{p.Event.Source, k}]; ok {
				repeatOf[i] = first
				continue
			}
			firstOf[key{p.Event.Source, k}] = i
		}
		unique = append(unique, i)
	}
	sort.SliceStable(unique, func(a, b int) bool {
		ea, eb := params[unique[a]].Event, params[unique[b]].Event
		if (ea.IdempotencyKey == "") != (eb.IdempotencyKey == "") {
			return ea.IdempotencyKey == ""
		}
		if ea.Source != eb.Source {
			return ea.Source < eb.Source
		}
		return ea.IdempotencyKey < eb.IdempotencyKey
	})

	n := len(unique)
	var (
		evIDs, sources, types, contentTypes, headers, statuses = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		bodies                                                 = make([][]byte, n)
		bodySizes                                              = make([]*int64, n)
		keys                                                   = make([]*string, n)
		received                                               = make([]time.Time, n)
		dIDs, dEvents, dDests, dStatuses                       []string
		dNext, dCreated                                        []time.Time
		dKeys                                                  []*string
		dPlaces                                                []int64
		ordered                                                = orderingColumns(params)
		keySources, keyValues                                  []string
		keyed                                                  []int // index into params of each looked-up key
	)
	for j, i := range unique {
		p := params[i]
		ev := p.Event
		h, err := json.Marshal(ev.Headers)
		if err != nil {
			return nil, fmt.Errorf("postgres: encode headers: %w", err)
		}
		body, size := store.CompressBody(ev.Body, s.compressOver)
		if body == nil {
			body = []byte{}
		}
		if size.Valid {
			bodySizes[j] = &size.Int64
		}
		evIDs[j], sources[j], types[j], bodies[j], contentTypes[j] = ev.ID, ev.Source, ev.Type, body, ev.ContentType
		headers[j], keys[j], received[j], statuses[j] = string(h), nullString(ev.IdempotencyKey), ev.ReceivedAt, string(ev.Status)
		for _, d := range p.Deliveries {
			dIDs, dEvents, dDests, dStatuses = append(dIDs, d.ID), append(dEvents, ev.ID), append(dDests, d.Destination), append(dStatuses, string(d.Status))
			dNext, dCreated = append(dNext, d.NextAttemptAt), append(dCreated, d.CreatedAt)
			o := ordered[d.ID]
			dKeys, dPlaces = append(dKeys, o.key), append(dPlaces, o.place)
		}
		if ev.IdempotencyKey != "" {
			keySources, keyValues, keyed = append(keySources, ev.Source), append(keyValues, ev.IdempotencyKey), append(keyed, i)
		}
	}
	err := s.send(ctx, func(b *pgx.Batch) {
		inserted := make(map[string]bool, n)
		b.Queue(insertEventsSQL, evIDs, sources, types, bodies, contentTypes, headers, keys, received, statuses,
			dIDs, dEvents, dDests, dStatuses, dNext, dCreated, bodySizes, dKeys, dPlaces).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				inserted[id] = true
			}
			if err := rows.Err(); err != nil {
				return err
			}
			for _, i := range unique {
				ev := params[i].Event
				results[i] = store.EventInsertResult{ID: ev.ID, Status: ev.Status, Duplicate: !inserted[ev.ID]}
			}
			return nil
		})
		if len(keyed) == 0 {
			return
		}
		b.Queue(firstEventsSQL, keySources, keyValues).Query(func(rows pgx.Rows) error {
			found := 0
			for rows.Next() {
				var (
					ord        int
					id, status string
				)
				if err := rows.Scan(&ord, &id, &status); err != nil {
					return err
				}
				if i := keyed[ord-1]; results[i].Duplicate {
					results[i] = store.EventInsertResult{ID: id, Status: webhook.Status(status), Duplicate: true}
				}
				found++
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if found != len(keyed) {
				return fmt.Errorf("found %d of %d idempotency keys just stored", found, len(keyed))
			}
			return nil
		})
	})
	if err != nil {
		return nil, s.fail("insert events", err)
	}
	for i, first := range repeatOf {
		if first >= 0 {
			results[i] = store.EventInsertResult{ID: results[first].ID, Status: results[first].Status, Duplicate: true}
		}
	}
	return results, nil
}

// claimSQL leases due deliveries in one statement. $1 and $2 are the quota
// destinations and their limits, served in array order; each destination's
// due rows are read from the deliveries_due index, oldest due first, and
// locked FOR UPDATE SKIP LOCKED, so rows another transaction is claiming
// are passed over instead of waited for. $4 caps the deliveries of
// destinations not among $8, all those named in Quotas (Others); they come
// last. The union is cut to $5 (Limit) in that order, so each destination
// gets what the ones before it left, as if they were claimed one after
// another. The rows are then leased and returned with their events,
// carrying the due time they had before the lease.
const claimSQL = `WITH quota AS (
	SELECT * FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS q (destination, quota, ord)
), picked AS (
	(SELECT c.id, c.next_attempt_at AS due_at, quota.ord
	FROM quota CROSS JOIN LATERAL (
		SELECT d.id, d.next_attempt_at FROM deliveries d
		WHERE d.status IN ('pending', 'failed') AND d.destination = quota.destination AND d.next_attempt_at <= $3
		AND ` + orderedFree + `
		ORDER BY d.next_attempt_at LIMIT quota.quota
		FOR UPDATE SKIP LOCKED) c
	UNION ALL
	SELECT o.id, o.next_attempt_at, 9223372036854775807 FROM (
		SELECT d.id, d.next_attempt_at FROM deliveries d
		WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= $3 AND d.destination <> ALL ($8::text[])
		AND ` + orderedFree + `
		LIMIT $4
		FOR UPDATE SKIP LOCKED) o)
	ORDER BY ord, due_at
	LIMIT $5
), leased AS (
	UPDATE deliveries d SET next_attempt_at = $6, lease_token = $7
	FROM picked WHERE d.id = picked.id
	RETURNING d.id, d.event_id, d.destination, d.status, d.attempts, picked.due_at, d.last_error, d.created_at, d.updated_at, picked.ord, d.ordering_key
)
SELECT l.id, l.event_id, l.destination, l.status, l.attempts, l.due_at, l.last_error, l.created_at, l.updated_at,
	e.source, e.type, e.body, e.body_size, e.content_type, e.received_at, e.status, l.ordering_key
FROM leased l JOIN events e ON e.id = l.event_id
ORDER BY l.ord, l.due_at`

// leaseByIDSQL leases the named deliveries that are due, skipping rows
// another claimer holds locked, and returns them in the order named.
const leaseByIDSQL = `WITH want AS (
	SELECT id, min(ord) AS ord FROM unnest($1::text[]) WITH ORDINALITY AS w (id, ord) GROUP BY id
), picked AS (
	SELECT d.id, d.next_attempt_at AS due_at, want.ord FROM deliveries d JOIN want ON want.id = d.id
	WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= $2 AND ` + orderedFree + `
	FOR UPDATE OF d SKIP LOCKED
), leased AS (
	UPDATE deliveries d SET next_attempt_at = $3, lease_token = $4
	FROM picked WHERE d.id = picked.id
	RETURNING d.id, d.event_id, d.destination, d.status, d.attempts, picked.due_at, d.last_error, d.created_at, d.updated_at, picked.ord, d.ordering_key
)
SELECT l.id, l.event_id, l.destination, l.status, l.attempts, l.due_at, l.last_error, l.created_at, l.updated_at,
	e.source, e.type, e.body, e.body_size, e.content_type, e.received_at, e.status, l.ordering_key
FROM leased l JOIN events e ON e.id = l.event_id
ORDER BY l.ord`

// DeliveryLeaseByID implements store.Store.
func (s *Store) DeliveryLeaseByID(ctx context.Context, p store.DeliveryLeaseByIDParams) ([]webhook.Job, error) {
	res, err := s.DeliveryLeaseByIDBlocked(ctx, p)
	return res.Jobs, err
}

// nextDueSQL finds, per destination, the earliest due time among rows that
// are not leased. It runs after claimSQL in the same transaction, so it
// does not see the rows just leased as waiting. Leased rows do not count:
// their claimer reports back, and an expired lease is found by the
// caller's periodic claim.
const nextDueSQL = `SELECT q.destination, (
	SELECT d.next_attempt_at FROM deliveries d
	WHERE d.status IN ('pending', 'failed') AND d.destination = q.destination AND d.lease_token IS NULL
	ORDER BY d.next_attempt_at LIMIT 1)
FROM unnest($1::text[]) AS q (destination)`

// DeliveryClaimDue implements store.Store.
func (s *Store) DeliveryClaimDue(ctx context.Context, p store.DeliveryClaimParams) (store.DeliveryClaimResult, error) {
	if err := s.open(); err != nil {
		return store.DeliveryClaimResult{}, err
	}
	limit := max(p.Limit, 0)
	// Ask each destination (once, should one be named twice) for at most
	// its quota; the statement cuts the whole to Limit.
	dests, known := []string{}, make([]string, 0, len(p.Quotas))
	quotas := []int32{}
	seen := make(map[string]bool, len(p.Quotas))
	for _, q := range p.Quotas {
		known = append(known, q.Destination)
		if seen[q.Destination] || q.Limit <= 0 {
			continue
		}
		seen[q.Destination] = true
		dests = append(dests, q.Destination)
		quotas = append(quotas, int32(min(q.Limit, limit)))
	}
	others := min(max(p.Others, 0), limit)

	var (
		jobs    []webhook.Job
		nextDue map[string]time.Time
		parked  []store.BlockedDelivery
	)
	if limit > 0 && (len(dests) > 0 || others > 0) {
		err := s.sendRecoverable(ctx, func(b *pgx.Batch) {
			jobs, nextDue = nil, make(map[string]time.Time, len(dests))
			queuePark(b, dests, nil, p.Now, p.LeaseUntil, &parked)
			b.Queue(claimSQL, dests, quotas, p.Now, others, limit, p.LeaseUntil, p.LeaseToken, known).Query(func(rows pgx.Rows) error {
				var err error
				jobs, err = pgx.CollectRows(rows, scanJob)
				return err
			})
			b.Queue(nextDueSQL, dests).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var (
						dest string
						at   *time.Time
					)
					if err := rows.Scan(&dest, &at); err != nil {
						return err
					}
					if at != nil {
						nextDue[dest] = at.UTC()
					}
				}
				return rows.Err()
			})
		})
		if err != nil {
			return store.DeliveryClaimResult{}, s.fail("claim", err)
		}
	}

	// Work out NextDueAt as the SQLite driver does while it claims one
	// destination after another: a destination that filled its share may
	// have more due now; one that was not asked (the Limit was used up) may
	// too; one that gave less than its share is drained, and its next
	// delivery is due when its earliest waiting row is.
	got := make(map[string]int, len(dests))
	for _, j := range jobs {
		got[j.Delivery.Destination]++
	}
	var next time.Time
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	taken := 0
	seen = make(map[string]bool, len(p.Quotas))
	var drained []string
	for _, q := range p.Quotas {
		if seen[q.Destination] {
			continue
		}
		seen[q.Destination] = true
		share := min(q.Limit, limit-taken)
		if share <= 0 {
			if q.Limit > 0 {
				earliest(p.Now) // not looked at: may be due
			}
			continue
		}
		n := got[q.Destination]
		taken += n
		if n < share {
			drained = append(drained, q.Destination)
		} else {
			earliest(p.Now) // more may be due right away
		}
	}
	for _, dest := range drained {
		if at, ok := nextDue[dest]; ok && (next.IsZero() || at.Before(next)) {
			next = at
			if next.Before(p.Now) {
				next = p.Now
			}
		}
	}
	return store.DeliveryClaimResult{Jobs: jobs, NextDueAt: next}, nil
}

// scanJob reads a delivery with the parts of its event that sending needs;
// headers are left out.
func scanJob(row pgx.CollectableRow) (webhook.Job, error) {
	var (
		j                webhook.Job
		d                = &j.Delivery
		ev               = &j.Event
		status, evStatus string
		size             sql.NullInt64
		err              error
		orderingKey      *string
	)
	if err := row.Scan(&d.ID, &d.EventID, &d.Destination, &status, &d.Attempts, &d.NextAttemptAt, &d.LastError, &d.CreatedAt, &d.UpdatedAt,
		&ev.Source, &ev.Type, &ev.Body, &size, &ev.ContentType, &ev.ReceivedAt, &evStatus, &orderingKey); err != nil {
		return webhook.Job{}, err
	}
	if orderingKey != nil {
		d.Ordered, d.OrderingKey = true, *orderingKey
	}
	if ev.Body, err = store.ExpandBody(ev.Body, size); err != nil {
		return webhook.Job{}, fmt.Errorf("event %s: %w", d.EventID, err)
	}
	d.Status, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = webhook.Status(status), utc(d.NextAttemptAt), utc(d.CreatedAt), utc(d.UpdatedAt)
	ev.ID, ev.ReceivedAt, ev.Status = d.EventID, utc(ev.ReceivedAt), webhook.Status(evStatus)
	return j, nil
}

const insertAttemptsSQL = `INSERT INTO attempts (id, delivery_id, number, started_at, duration_us, status_code, response_body, error, reason)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::bigint[], $6::int[], $7::bytea[], $8::text[], $9::text[])`

// recordDeliveriesSQL moves each delivery whose lease token still matches
// to its new status and ends the lease. Should one call name a delivery
// twice, the first result presenting its token wins, as when they are
// applied one after another (the first clears the token).
const recordDeliveriesSQL = `UPDATE deliveries d
SET status = r.status, attempts = r.number, next_attempt_at = r.next_attempt_at,
	last_error = r.error, last_reason = r.reason, lease_token = NULL, updated_at = r.updated_at
FROM (
	SELECT DISTINCT ON (u.id) u.*
	FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[], $7::timestamptz[], $8::text[]) WITH ORDINALITY
		AS u (id, lease_token, status, number, next_attempt_at, error, updated_at, reason, ord)
	JOIN deliveries cur ON cur.id = u.id AND cur.lease_token = u.lease_token
	ORDER BY u.id, u.ord
) r
WHERE d.id = r.id AND d.lease_token = r.lease_token`

// DeliveryRecordAttempts implements store.Store.
func (s *Store) DeliveryRecordAttempts(ctx context.Context, params []store.AttemptRecordParams) ([]webhook.Status, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	if len(params) == 0 {
		return nil, nil
	}
	n := len(params)
	var (
		attemptIDs, deliveryIDs, tokens, statuses, errs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		reasons                                         = make([]string, n)
		numbers, codes                                  = make([]int32, n), make([]int32, n)
		started, next, updated                          = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		durations                                       = make([]int64, n)
		bodies                                          = make([][]byte, n)
		events                                          []string
	)
	seen := map[string]bool{}
	for i, p := range params {
		a := p.Attempt
		attemptIDs[i], deliveryIDs[i], numbers[i], started[i] = a.ID, a.DeliveryID, int32(a.Number), a.StartedAt
		durations[i], codes[i], bodies[i], errs[i] = a.Duration.Microseconds(), int32(a.StatusCode), a.ResponseBody, a.Error
		reasons[i] = string(a.Reason)
		tokens[i], statuses[i], updated[i] = p.LeaseToken, string(p.Status), p.UpdatedAt
		next[i] = p.NextAttemptAt
		if p.Status.Terminal() {
			next[i] = p.UpdatedAt
		}
		if !seen[p.EventID] {
			seen[p.EventID] = true
			events = append(events, p.EventID)
		}
	}
	var derived map[string]webhook.Status
	err := s.sendRecoverable(ctx, func(b *pgx.Batch) {
		b.Queue(insertAttemptsSQL, attemptIDs, deliveryIDs, numbers, started, durations, codes, bodies, errs, reasons)
		b.Queue(recordDeliveriesSQL, deliveryIDs, tokens, statuses, numbers, next, errs, updated, reasons)
		queueUnpark(b, params)
		derived = queueDerive(b, events)
	})
	if err != nil {
		return nil, s.fail("record attempts", err)
	}
	out := make([]webhook.Status, n)
	for i, p := range params {
		st, ok := derived[p.EventID]
		if !ok {
			return nil, fmt.Errorf("postgres: record attempts: event %s: %w", p.EventID, webhook.ErrNotFound)
		}
		out[i] = st
	}
	return out, nil
}

// lockEventsSQL locks event rows in id order before their status is
// derived; see the package comment.
const lockEventsSQL = `SELECT id FROM events WHERE id = ANY ($1::text[]) ORDER BY id FOR UPDATE`

// deriveEventStatusSQL is webhook.DeriveEventStatus in one statement, for
// many events at once. The store suite's EventStatusDerived test holds the
// two to the same answers. Each event's deliveries are counted in a
// correlated subquery, which PostgreSQL plans as a probe of
// deliveries_event_id per event even before the table has statistics; a
// join is planned as a scan of the whole table until then.
const deriveEventStatusSQL = `UPDATE events e SET status = s.status
FROM (
	SELECT ev.id, (
		SELECT CASE
			WHEN count(*) FILTER (WHERE d.status = 'success') = count(*) THEN 'success'
			WHEN count(*) FILTER (WHERE d.status = 'permanent_failure') > 0
				AND count(*) FILTER (WHERE d.status IN ('pending', 'failed')) = 0 THEN 'permanent_failure'
			WHEN count(*) FILTER (WHERE d.status = 'failed') > 0 THEN 'failed'
			ELSE 'pending'
		END
		FROM deliveries d WHERE d.event_id = ev.id) AS status
	FROM unnest($1::text[]) AS ev (id)
) s
WHERE e.id = s.id
RETURNING e.id, e.status`

// queueDerive queues the statements that recompute the status of events
// (which must come after the statements changing their deliveries, in the
// same transaction) and returns the map that the batch fills with each
// existing event's new status.
func queueDerive(b *pgx.Batch, events []string) map[string]webhook.Status {
	derived := make(map[string]webhook.Status, len(events))
	b.Queue(lockEventsSQL, events)
	b.Queue(deriveEventStatusSQL, events).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id, status string
			if err := rows.Scan(&id, &status); err != nil {
				return err
			}
			derived[id] = webhook.Status(status)
		}
		return rows.Err()
	})
	return derived
}

const releaseLeasesSQL = `UPDATE deliveries d SET lease_token = NULL, next_attempt_at = u.due_at
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u (id, lease_token, due_at)
WHERE d.id = u.id AND d.lease_token = u.lease_token`

// DeliveryReleaseLeases implements store.Store.
func (s *Store) DeliveryReleaseLeases(ctx context.Context, params []store.LeaseReleaseParams) error {
	if err := s.open(); err != nil {
		return err
	}
	if len(params) == 0 {
		return nil
	}
	ids, tokens, due := make([]string, len(params)), make([]string, len(params)), make([]time.Time, len(params))
	for i, p := range params {
		ids[i], tokens[i], due[i] = p.DeliveryID, p.LeaseToken, p.DueAt
	}
	err := s.sendRecoverable(ctx, func(b *pgx.Batch) {
		b.Queue(releaseLeasesSQL, ids, tokens, due)
	})
	if err != nil {
		return s.fail("release leases", err)
	}
	return nil
}
