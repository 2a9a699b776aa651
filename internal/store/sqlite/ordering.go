package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Ordered delivery (docs/ordering.md). The guarantee lives here, where a
// delivery is leased: an ordered delivery is leased only when no earlier
// delivery of its destination and key is pending or failed. Everything
// runs on the writer goroutine, inside the shared transaction, so a claim
// and the record of its predecessor can never interleave.
//
// Cost: a store that never saw an ordered delivery pays nothing (the
// orderedState check); one that did pays one query per claim over the
// claimed ids, and one indexed update per finished delivery.

// orderedState says whether ordered deliveries may exist: unknown until
// first asked, then known for good (only this process writes the file).
type orderedState int8

const (
	orderedUnknown orderedState = iota
	orderedNone
	orderedSome
)

// hasOrdered tells whether any unfinished ordered delivery may exist.
func (s *Store) hasOrdered(tx writeTx) (bool, error) {
	if s.ordered == orderedUnknown {
		var n int
		if err := tx.QueryRowContext(tx.ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries INDEXED BY deliveries_ordering
			WHERE ordering_key IS NOT NULL AND status IN ('pending', 'failed') LIMIT 1)`).Scan(&n); err != nil {
			return false, fmt.Errorf("sqlite: look for ordered deliveries: %w", err)
		}
		s.ordered = orderedNone
		if n > 0 {
			s.ordered = orderedSome
		}
	}
	return s.ordered == orderedSome, nil
}

// orderInsert gives a just-inserted ordered delivery its key and the next
// position.
func (s *Store) orderInsert(tx writeTx, d webhook.Delivery) error {
	if !d.Ordered {
		return nil
	}
	if _, err := tx.ExecContext(tx.ctx, `UPDATE deliveries SET ordering_key = ?1,
		ordering_seq = (SELECT COALESCE(MAX(ordering_seq), 0) + 1 FROM deliveries INDEXED BY deliveries_ordering_seq WHERE ordering_seq IS NOT NULL)
		WHERE id = ?2`, d.OrderingKey, d.ID); err != nil {
		return fmt.Errorf("sqlite: order delivery %s: %w", d.ID, err)
	}
	s.ordered = orderedSome
	return nil
}

// orderJobs splits claimed (not yet leased) jobs into those that may go
// and the ordered ones that wait for an earlier delivery of their key,
// which it parks: due again at their predecessor's next attempt time (its
// retry, or its lease's end) or leaseUntil, whichever is later, unless the
// predecessor's record makes them due sooner (unparkNext). Parked rows
// are no longer due, so the dispatcher does not spin on them. It also
// fills in each ordered job's key.
func (s *Store) orderJobs(tx writeTx, jobs []webhook.Job, leaseUntil int64) ([]webhook.Job, []store.BlockedDelivery, error) {
	if len(jobs) == 0 {
		return jobs, nil, nil
	}
	if ok, err := s.hasOrdered(tx); err != nil || !ok {
		return jobs, nil, err
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.Delivery.ID
	}
	list, _ := json.Marshal(ids) // a []string always marshals
	rows, err := tx.QueryContext(tx.ctx, `SELECT d.id, d.ordering_key, p.id, p.next_attempt_at
		FROM json_each(?1) AS want JOIN deliveries d ON d.id = want.value
		LEFT JOIN deliveries p ON p.id = (SELECT q.id FROM deliveries q INDEXED BY deliveries_ordering
			WHERE q.destination = d.destination AND q.ordering_key = d.ordering_key AND q.ordering_seq < d.ordering_seq
			AND q.ordering_key IS NOT NULL AND q.status IN ('pending', 'failed')
			ORDER BY q.ordering_seq DESC LIMIT 1)
		WHERE d.ordering_key IS NOT NULL`, string(list))
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: check order: %w", err)
	}
	type ordered struct {
		key   string
		after sql.NullString
		at    sql.NullInt64
	}
	found := map[string]ordered{}
	for rows.Next() {
		var id string
		var o ordered
		if err := rows.Scan(&id, &o.key, &o.after, &o.at); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("sqlite: scan order: %w", err)
		}
		found[id] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("sqlite: check order: %w", err)
	}
	if len(found) == 0 {
		return jobs, nil, nil
	}
	kept := jobs[:0]
	var blocked []store.BlockedDelivery
	for _, j := range jobs {
		o, ok := found[j.Delivery.ID]
		if !ok {
			kept = append(kept, j)
			continue
		}
		j.Delivery.Ordered, j.Delivery.OrderingKey = true, o.key
		if !o.after.Valid {
			kept = append(kept, j)
			continue
		}
		until := max(o.at.Int64, leaseUntil)
		if _, err := tx.ExecContext(tx.ctx, `UPDATE deliveries SET next_attempt_at = ? WHERE id = ?`, until, j.Delivery.ID); err != nil {
			return nil, nil, fmt.Errorf("sqlite: park %s: %w", j.Delivery.ID, err)
		}
		blocked = append(blocked, store.BlockedDelivery{ID: j.Delivery.ID, Destination: j.Delivery.Destination,
			After: o.after.String, Until: fromMicros(until)})
	}
	return kept, blocked, nil
}

// unparkNext makes the next delivery of each ordered delivery that params
// finished due at once, if it is parked (pending, not leased, not yet
// due). A successor waiting for a retry (failed) keeps its backoff. One
// statement serves the whole batch.
func (s *Store) unparkNext(tx writeTx, params []store.AttemptRecordParams) error {
	if s.ordered != orderedSome {
		return nil
	}
	var finished []string
	var now int64
	for _, p := range params {
		if p.Status.Terminal() {
			finished = append(finished, p.Attempt.DeliveryID)
			now = max(now, micros(p.UpdatedAt))
		}
	}
	if len(finished) == 0 {
		return nil
	}
	list, _ := json.Marshal(finished) // a []string always marshals
	if _, err := tx.ExecContext(tx.ctx, `UPDATE deliveries SET next_attempt_at = ?1 WHERE id IN (
			SELECT (SELECT n.id FROM deliveries n INDEXED BY deliveries_ordering
				WHERE n.destination = f.destination AND n.ordering_key = f.ordering_key AND n.ordering_seq > f.ordering_seq
				AND n.ordering_key IS NOT NULL AND n.status IN ('pending', 'failed')
				ORDER BY n.ordering_seq LIMIT 1)
			FROM json_each(?2) AS w JOIN deliveries f ON f.id = w.value
			WHERE f.ordering_key IS NOT NULL AND f.status IN ('success', 'permanent_failure'))
		AND status = 'pending' AND lease_token IS NULL AND next_attempt_at > ?1`, now, string(list)); err != nil {
		return fmt.Errorf("sqlite: unpark successors: %w", err)
	}
	return nil
}
