package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/store"
)

// Ordered delivery (docs/ordering.md). The guarantee is enforced where a
// delivery is leased: claimSQL and leaseByIDSQL lease an ordered delivery
// only when no earlier delivery of its destination and key is pending or
// failed (orderedFree). In READ COMMITTED a statement sees every
// predecessor committed before it started; a predecessor committed later
// was accepted concurrently with it, and such events have no order
// between them (docs/ordering.md).
//
// Blocked deliveries are parked (no longer due) by parkBlockedSQL, run
// before the claim in the same batch, so that the claim's NextDueAt does
// not name them and the dispatcher does not spin; unparkNextSQL, run with
// the attempt records, makes the next one due as soon as its predecessor
// is finished. Both read only the deliveries_ordering index, which holds
// unfinished ordered rows: a destination without ordering pays an empty
// index probe per claim.

// orderedFree is the claim condition on a delivery row d: no earlier
// unfinished delivery of its key. It is written as "the latest earlier
// one is NULL" rather than NOT EXISTS: the ORDER BY makes the planner read
// deliveries_ordering even before the table has statistics, where NOT
// EXISTS was planned over deliveries_due, reading every waiting row of
// the destination per candidate (200 times slower at 5,000 waiting).
const orderedFree = `(d.ordering_key IS NULL OR (
	SELECT p.ordering_seq FROM deliveries p
	WHERE p.destination = d.destination AND p.ordering_key = d.ordering_key AND p.ordering_seq < d.ordering_seq
	AND p.ordering_key IS NOT NULL AND p.status IN ('pending', 'failed')
	ORDER BY p.ordering_seq DESC LIMIT 1) IS NULL)`

// predecessorSQL is the latest earlier unfinished delivery of d's key.
const predecessorSQL = `SELECT p.id, p.next_attempt_at FROM deliveries p
	WHERE p.destination = d.destination AND p.ordering_key = d.ordering_key AND p.ordering_seq < d.ordering_seq
	AND p.ordering_key IS NOT NULL AND p.status IN ('pending', 'failed')
	ORDER BY p.ordering_seq DESC LIMIT 1`

// parkBlockedSQL parks the due ordered deliveries selected by %s ($1)
// that wait for an earlier one: due again at their predecessor's next
// attempt time or $3 (the claim's lease end), whichever is later. Rows
// another transaction holds are skipped, not waited for. It returns what
// it parked. The selection is either the claim's destinations, read in
// due order from deliveries_due like the claim, so that rows parked
// before are not read again (a long blocked backlog costs nothing per
// claim), or the ids named to DeliveryLeaseByID (by primary key); an OR
// of the two would read the whole table. At most 1000 are parked per
// claim; more are parked by the next ones.
const parkBlockedSQL = `UPDATE deliveries d SET next_attempt_at = GREATEST(b.pred_next, $3)
FROM (
	SELECT d.id, pred.id AS after, pred.next_attempt_at AS pred_next FROM deliveries d
	CROSS JOIN LATERAL (` + predecessorSQL + `) pred
	WHERE %s
	AND d.ordering_key IS NOT NULL AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= $2
	ORDER BY d.next_attempt_at LIMIT 1000
	FOR UPDATE OF d SKIP LOCKED
) b
WHERE d.id = b.id
RETURNING d.id, d.destination, b.after, d.next_attempt_at`

var (
	parkByDestinationSQL = strings.ReplaceAll(parkBlockedSQL, "%s", "d.destination = ANY ($1::text[])")
	parkByIDSQL          = strings.ReplaceAll(parkBlockedSQL, "%s", "d.id = ANY ($1::text[])")
)

// unparkNextSQL makes the next delivery of each finished ordered delivery
// $1 due at $2, if it is parked (pending, not leased, not yet due); a
// successor waiting for a retry (failed) keeps its backoff.
// The successors are gathered into an array first (one InitPlan), so the
// update reads them by primary key whatever the planner thinks of the
// table's size.
const unparkNextSQL = `UPDATE deliveries n SET next_attempt_at = $2
WHERE n.id = ANY (ARRAY(
	SELECT (SELECT s.id FROM deliveries s
		WHERE s.destination = f.destination AND s.ordering_key = f.ordering_key AND s.ordering_seq > f.ordering_seq
		AND s.ordering_key IS NOT NULL AND s.status IN ('pending', 'failed')
		ORDER BY s.ordering_seq LIMIT 1)
	FROM deliveries f
	WHERE f.id = ANY ($1::text[]) AND f.ordering_key IS NOT NULL AND f.status IN ('success', 'permanent_failure')))
AND n.status = 'pending' AND n.lease_token IS NULL AND n.next_attempt_at > $2`

// orderDeliverySQL gives a delivery added to a stored event (a replay to
// a destination) its key and a position after every one given so far.
const orderDeliverySQL = `UPDATE deliveries SET ordering_key = $2,
	ordering_seq = nextval('deliveries_ordering_seq') * 1048576 WHERE id = $1`

// queuePark queues parkBlockedSQL for the destinations dests, or else the
// ids, and collects what it parked.
func queuePark(b *pgx.Batch, dests, ids []string, now, leaseUntil time.Time, out *[]store.BlockedDelivery) {
	query, arg := parkByDestinationSQL, dests
	if dests == nil {
		query, arg = parkByIDSQL, ids
	}
	b.Queue(query, arg, now, leaseUntil).Query(func(rows pgx.Rows) error {
		*out = (*out)[:0]
		for rows.Next() {
			var bl store.BlockedDelivery
			if err := rows.Scan(&bl.ID, &bl.Destination, &bl.After, &bl.Until); err != nil {
				return err
			}
			bl.Until = utc(bl.Until)
			*out = append(*out, bl)
		}
		return rows.Err()
	})
}

// queueUnpark queues unparkNextSQL for the params that finish a delivery.
func queueUnpark(b *pgx.Batch, params []store.AttemptRecordParams) {
	var finished []string
	var now time.Time
	for _, p := range params {
		if p.Status.Terminal() {
			finished = append(finished, p.Attempt.DeliveryID)
			if p.UpdatedAt.After(now) {
				now = p.UpdatedAt
			}
		}
	}
	if len(finished) > 0 {
		b.Queue(unparkNextSQL, finished, now)
	}
}

// orderingColumns turn an inserted batch's deliveries into the ordering
// arguments of insertEventsSQL: each ordered delivery's key (nil for an
// unordered one) and its place in the batch (in the order of params,
// which is the order the batch was accepted in, not the order rows are
// sent in).
func orderingColumns(params []store.EventInsertParams) map[string]orderingArg {
	var out map[string]orderingArg
	n := 0
	for _, p := range params {
		for _, d := range p.Deliveries {
			n++
			if !d.Ordered {
				continue
			}
			if out == nil {
				out = map[string]orderingArg{}
			}
			key := d.OrderingKey
			out[d.ID] = orderingArg{key: &key, place: int64(n)}
		}
	}
	return out
}

// orderingArg is one delivery's ordering at insert.
type orderingArg struct {
	key   *string
	place int64
}

// DeliveryLeaseByIDBlocked implements store.Store.
func (s *Store) DeliveryLeaseByIDBlocked(ctx context.Context, p store.DeliveryLeaseByIDParams) (store.DeliveryLeaseByIDResult, error) {
	if err := s.open(); err != nil {
		return store.DeliveryLeaseByIDResult{}, err
	}
	if len(p.IDs) == 0 {
		return store.DeliveryLeaseByIDResult{}, nil
	}
	var res store.DeliveryLeaseByIDResult
	err := s.sendRecoverable(ctx, func(b *pgx.Batch) {
		res = store.DeliveryLeaseByIDResult{}
		queuePark(b, nil, p.IDs, p.Now, p.LeaseUntil, &res.Blocked)
		b.Queue(leaseByIDSQL, p.IDs, p.Now, p.LeaseUntil, p.LeaseToken).Query(func(rows pgx.Rows) error {
			var err error
			res.Jobs, err = pgx.CollectRows(rows, scanJob)
			return err
		})
	})
	if err != nil {
		return store.DeliveryLeaseByIDResult{}, s.fail("lease by id", err)
	}
	return res, nil
}
