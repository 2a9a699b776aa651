package mongo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// EventInsertMany implements store.Store with one unordered insertMany:
// each event is one document holding its deliveries, so each is stored
// whole or not at all. Duplicates within the batch are resolved before;
// an insert refused by the ikey index names a duplicate of an event
// stored earlier (by any process), which is then read.
func (s *Store) EventInsertMany(ctx context.Context, params []store.EventInsertParams) ([]store.EventInsertResult, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	results := make([]store.EventInsertResult, len(params))
	repeatOf := make([]int, len(params))
	firstByKey := map[string]int{}
	var (
		docs  []any
		index []int // docs[j] is params[index[j]]
	)
	seqs, err := s.orderingSeqs(ctx, params)
	if err != nil {
		return nil, s.fail("insert events", err)
	}
	for i, p := range params {
		repeatOf[i] = -1
		if k := ikey(p.Event.Source, p.Event.IdempotencyKey); k != "" {
			if first, ok := firstByKey[k]; ok {
				repeatOf[i] = first
				continue
			}
			firstByKey[k] = i
		}
		e, err := newEventDoc(p.Event, s.compressOver)
		if err != nil {
			return nil, err
		}
		for _, d := range p.Deliveries {
			e.Deliveries = append(e.Deliveries, ordered(newDeliveryDoc(d), d, seqs))
		}
		e.refresh()
		results[i] = store.EventInsertResult{ID: e.ID, Status: webhook.Status(e.Status)}
		docs = append(docs, e)
		index = append(index, i)
	}
	if len(docs) > 0 {
		_, err := s.events.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		var bwe mongo.BulkWriteException
		switch {
		case err == nil:
		case errors.As(err, &bwe) && bwe.WriteConcernError == nil:
			for _, we := range bwe.WriteErrors {
				if we.Code != 11000 || we.Index < 0 || we.Index >= len(index) {
					return nil, s.fail("insert events", err)
				}
				i := index[we.Index]
				ev := params[i].Event
				var first eventDoc
				ferr := s.events.FindOne(ctx, bson.M{"ikey": ikey(ev.Source, ev.IdempotencyKey)},
					options.FindOne().SetProjection(bson.M{"_id": 1, "status": 1})).Decode(&first)
				if ferr != nil {
					return nil, s.fail("insert events", fmt.Errorf("read the first event of a duplicate: %w (insert: %w)", ferr, err))
				}
				results[i] = store.EventInsertResult{ID: first.ID, Status: webhook.Status(first.Status), Duplicate: true}
			}
		default:
			return nil, s.fail("insert events", err)
		}
	}
	for i, first := range repeatOf {
		if first >= 0 {
			results[i] = store.EventInsertResult{ID: results[first].ID, Status: results[first].Status, Duplicate: true}
		}
	}
	return results, nil
}

// candidate is a due delivery found by a claim, before it is leased.
type candidate struct {
	doc  *eventDoc
	id   string
	next int64
}

// findDue walks events matching filter in due order and returns up to n
// of their due deliveries that pick accepts, oldest due first. It stops
// reading once an event's due time (the earliest of its deliveries) is
// later than the n-th delivery it holds: no later event can beat it.
func (s *Store) findDue(ctx context.Context, filter bson.M, now int64, n int, pick func(d *deliveryDoc) bool) ([]candidate, error) {
	cur, err := s.events.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "due", Value: 1}, {Key: "_id", Value: 1}}).SetBatchSize(int32(min(max(n, 16), 256))))
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	var cands []candidate
	for cur.Next(ctx) {
		var e eventDoc
		if err := cur.Decode(&e); err != nil {
			return nil, err
		}
		if e.Due == nil || (len(cands) >= n && *e.Due > cands[n-1].next) {
			break
		}
		for i := range e.Deliveries {
			d := &e.Deliveries[i]
			if waiting(d.Status) && d.Next <= now && pick(d) {
				cands = append(cands, candidate{doc: &e, id: d.ID, next: d.Next})
			}
		}
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].next < cands[b].next })
		if len(cands) > n {
			cands = cands[:n]
		}
	}
	return cands, cur.Err()
}

// lease leases the candidates still due, event by event, and returns them
// as jobs in the candidates' order.
func (s *Store) lease(ctx context.Context, cands []candidate, now, until int64, token string) ([]webhook.Job, error) {
	var (
		order  []string
		byDoc  = map[string][]string{}
		docs   = map[string]*eventDoc{}
		leased = map[string]webhook.Job{}
	)
	for _, c := range cands {
		if _, ok := byDoc[c.doc.ID]; !ok {
			order = append(order, c.doc.ID)
			docs[c.doc.ID] = c.doc
		}
		byDoc[c.doc.ID] = append(byDoc[c.doc.ID], c.id)
	}
	for _, id := range order {
		var jobs []webhook.Job
		_, _, err := s.modify(ctx, id, docs[id], func(e *eventDoc) error {
			jobs = jobs[:0]
			ev, err := e.event(false)
			if err != nil {
				return err
			}
			if ev.Body, err = e.body(); err != nil {
				return err
			}
			for _, did := range byDoc[id] {
				for i := range e.Deliveries {
					d := &e.Deliveries[i]
					if d.ID != did || !waiting(d.Status) || d.Next > now {
						continue
					}
					job := webhook.Job{Delivery: d.delivery(e.ID), Event: ev}
					d.Next, d.Lease = until, token
					jobs = append(jobs, job)
				}
			}
			if len(jobs) == 0 {
				return errSkip
			}
			return nil
		})
		if errors.Is(err, webhook.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		for _, j := range jobs {
			leased[j.Delivery.ID] = j
		}
	}
	out := make([]webhook.Job, 0, len(leased))
	for _, c := range cands {
		if j, ok := leased[c.id]; ok {
			out = append(out, j)
			delete(leased, c.id)
		}
	}
	return out, nil
}

// DeliveryClaimDue implements store.Store: destination after destination,
// as the SQLite store does, each reading its due deliveries through the
// dest_due index and leasing them with a compare-and-set of their events.
// A delivery another claimer leased first is passed over.
func (s *Store) DeliveryClaimDue(ctx context.Context, p store.DeliveryClaimParams) (store.DeliveryClaimResult, error) {
	if err := s.open(); err != nil {
		return store.DeliveryClaimResult{}, err
	}
	limit := max(p.Limit, 0)
	now, until := tm(p.Now), tm(p.LeaseUntil)
	var (
		jobs []webhook.Job
		next time.Time
	)
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	known := make([]string, 0, len(p.Quotas))
	seen := map[string]bool{}
	for _, q := range p.Quotas {
		known = append(known, q.Destination)
		if seen[q.Destination] {
			continue
		}
		seen[q.Destination] = true
		share := min(q.Limit, limit-len(jobs))
		if share <= 0 {
			if q.Limit > 0 {
				earliest(p.Now) // not looked at: may be due
			}
			continue
		}
		dest := q.Destination
		cands, err := s.findDue(ctx, bson.M{"dl.dest": dest, "due": bson.M{"$lte": now}}, now, share,
			func(d *deliveryDoc) bool { return d.Destination == dest })
		if err != nil {
			return store.DeliveryClaimResult{}, s.fail("claim", err)
		}
		cands, blocked, err := s.orderCandidates(ctx, cands, until)
		if err != nil {
			return store.DeliveryClaimResult{}, s.fail("claim", err)
		}
		got, err := s.lease(ctx, cands, now, until, p.LeaseToken)
		if err != nil {
			return store.DeliveryClaimResult{}, s.fail("claim", err)
		}
		jobs = append(jobs, got...)
		if len(got) >= share || len(blocked) > 0 {
			earliest(p.Now) // more may be due right away
			continue
		}
		at, ok, err := s.nextDue(ctx, dest)
		if err != nil {
			return store.DeliveryClaimResult{}, s.fail("claim", err)
		}
		if ok {
			if at.Before(p.Now) {
				at = p.Now
			}
			earliest(at)
		}
	}
	if others := min(max(p.Others, 0), limit-len(jobs)); others > 0 {
		isKnown := map[string]bool{}
		for _, d := range known {
			isKnown[d] = true
		}
		// No $nin on dl.dest: it would also pass over events that have a
		// known destination beside a removed one.
		cands, err := s.findDue(ctx, bson.M{"due": bson.M{"$lte": now}}, now, others,
			func(d *deliveryDoc) bool { return !isKnown[d.Destination] })
		if err != nil {
			return store.DeliveryClaimResult{}, s.fail("claim", err)
		}
		if cands, _, err = s.orderCandidates(ctx, cands, until); err != nil {
			return store.DeliveryClaimResult{}, s.fail("claim", err)
		}
		got, err := s.lease(ctx, cands, now, until, p.LeaseToken)
		if err != nil {
			return store.DeliveryClaimResult{}, s.fail("claim", err)
		}
		jobs = append(jobs, got...)
	}
	return store.DeliveryClaimResult{Jobs: jobs, NextDueAt: next}, nil
}

// nextDue finds the earliest next attempt time of dest's deliveries that
// wait and are not leased.
func (s *Store) nextDue(ctx context.Context, dest string) (time.Time, bool, error) {
	cur, err := s.events.Find(ctx, bson.M{"dl.dest": dest, "due": bson.M{"$exists": true}},
		options.Find().SetSort(bson.D{{Key: "due", Value: 1}}).SetBatchSize(32))
	if err != nil {
		return time.Time{}, false, err
	}
	defer cur.Close(ctx)
	var (
		best  int64
		found bool
	)
	for cur.Next(ctx) {
		var e eventDoc
		if err := cur.Decode(&e); err != nil {
			return time.Time{}, false, err
		}
		if e.Due == nil || (found && *e.Due > best) {
			break
		}
		for _, d := range e.Deliveries {
			if d.Destination == dest && waiting(d.Status) && d.Lease == "" && (!found || d.Next < best) {
				best, found = d.Next, true
			}
		}
	}
	return fromTm(best), found, cur.Err()
}

// DeliveryLeaseByID implements store.Store.
func (s *Store) DeliveryLeaseByID(ctx context.Context, p store.DeliveryLeaseByIDParams) ([]webhook.Job, error) {
	res, err := s.DeliveryLeaseByIDBlocked(ctx, p)
	return res.Jobs, err
}

// DeliveryLeaseByIDBlocked implements store.Store.
func (s *Store) DeliveryLeaseByIDBlocked(ctx context.Context, p store.DeliveryLeaseByIDParams) (store.DeliveryLeaseByIDResult, error) {
	res, err := s.deliveryLeaseByID(ctx, p)
	if err != nil {
		return store.DeliveryLeaseByIDResult{}, s.fail("lease by id", err)
	}
	return res, nil
}

func (s *Store) deliveryLeaseByID(ctx context.Context, p store.DeliveryLeaseByIDParams) (store.DeliveryLeaseByIDResult, error) {
	if err := s.open(); err != nil {
		return store.DeliveryLeaseByIDResult{}, err
	}
	if len(p.IDs) == 0 {
		return store.DeliveryLeaseByIDResult{}, nil
	}
	now := tm(p.Now)
	want := map[string]bool{}
	for _, id := range p.IDs {
		want[id] = true
	}
	cur, err := s.events.Find(ctx, bson.M{"dl.id": bson.M{"$in": p.IDs}})
	if err != nil {
		return store.DeliveryLeaseByIDResult{}, err
	}
	var docs []eventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return store.DeliveryLeaseByIDResult{}, err
	}
	byID := map[string]candidate{}
	for i := range docs {
		for _, d := range docs[i].Deliveries {
			if want[d.ID] && waiting(d.Status) && d.Next <= now {
				byID[d.ID] = candidate{doc: &docs[i], id: d.ID, next: d.Next}
			}
		}
	}
	var cands []candidate
	for _, id := range p.IDs {
		if c, ok := byID[id]; ok {
			cands = append(cands, c)
			delete(byID, id)
		}
	}
	cands, blocked, err := s.orderCandidates(ctx, cands, tm(p.LeaseUntil))
	if err != nil {
		return store.DeliveryLeaseByIDResult{}, err
	}
	jobs, err := s.lease(ctx, cands, now, tm(p.LeaseUntil), p.LeaseToken)
	if err != nil {
		return store.DeliveryLeaseByIDResult{}, err
	}
	return store.DeliveryLeaseByIDResult{Jobs: jobs, Blocked: blocked}, nil
}

// DeliveryRecordAttempts implements store.Store with one compare-and-set
// per event: the attempts go into their deliveries, each delivery whose
// lease token still matches moves to its new status, and the event's
// status is derived, all in one document write.
func (s *Store) DeliveryRecordAttempts(ctx context.Context, params []store.AttemptRecordParams) ([]webhook.Status, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	var order []string
	byEvent := map[string][]int{}
	for i, p := range params {
		if _, ok := byEvent[p.EventID]; !ok {
			order = append(order, p.EventID)
		}
		byEvent[p.EventID] = append(byEvent[p.EventID], i)
	}
	out := make([]webhook.Status, len(params))
	for _, id := range order {
		e, _, err := s.modify(ctx, id, nil, func(e *eventDoc) error {
			for _, i := range byEvent[id] {
				p := params[i]
				a := p.Attempt
				for j := range e.Deliveries {
					d := &e.Deliveries[j]
					if d.ID != a.DeliveryID {
						continue
					}
					d.Log = append(append([]attemptDoc(nil), d.Log...), attemptDoc{
						ID: a.ID, Number: a.Number, Started: tm(a.StartedAt), Duration: a.Duration.Microseconds(),
						Code: a.StatusCode, Body: a.ResponseBody, Error: a.Error, Reason: string(a.Reason),
					})
					if d.Lease == "" || d.Lease != p.LeaseToken {
						continue
					}
					d.Status, d.Attempts, d.LastError, d.Lease, d.Updated = string(p.Status), a.Number, a.Error, "", tm(p.UpdatedAt)
					d.LastReason = string(a.Reason)
					d.Next = tm(p.NextAttemptAt)
					if p.Status.Terminal() {
						d.Next = tm(p.UpdatedAt)
					}
				}
			}
			return nil
		})
		if err != nil {
			if errors.Is(err, webhook.ErrNotFound) {
				return nil, fmt.Errorf("mongo: record attempts: %w", err)
			}
			return nil, s.fail("record attempts", err)
		}
		for _, i := range byEvent[id] {
			out[i] = webhook.Status(e.Status)
		}
		if err := s.unparkNext(ctx, &e, params, byEvent[id]); err != nil {
			return nil, s.fail("record attempts", err)
		}
	}
	return out, nil
}

// DeliveryReleaseLeases implements store.Store.
func (s *Store) DeliveryReleaseLeases(ctx context.Context, params []store.LeaseReleaseParams) error {
	if err := s.open(); err != nil {
		return err
	}
	if len(params) == 0 {
		return nil
	}
	ids := make([]string, len(params))
	for i, p := range params {
		ids[i] = p.DeliveryID
	}
	if err := s.changeDeliveries(ctx, bson.M{"dl.id": bson.M{"$in": ids}}, func(e *eventDoc) bool {
		changed := false
		for _, p := range params {
			for j := range e.Deliveries {
				d := &e.Deliveries[j]
				if d.ID == p.DeliveryID && d.Lease != "" && d.Lease == p.LeaseToken {
					d.Lease, d.Next = "", tm(p.DueAt)
					changed = true
				}
			}
		}
		return changed
	}); err != nil {
		return s.fail("release leases", err)
	}
	return nil
}

// changeDeliveries applies change to every event matching filter, each
// with its own compare-and-set; change reports whether it changed
// anything.
func (s *Store) changeDeliveries(ctx context.Context, filter bson.M, change func(e *eventDoc) bool) error {
	_, err := s.changeEvents(ctx, filter, change)
	return err
}

// changeEvents is changeDeliveries that returns how many events it
// changed.
func (s *Store) changeEvents(ctx context.Context, filter bson.M, change func(e *eventDoc) bool) (int, error) {
	cur, err := s.events.Find(ctx, filter)
	if err != nil {
		return 0, err
	}
	var docs []eventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return 0, err
	}
	n := 0
	for i := range docs {
		_, wrote, err := s.modify(ctx, docs[i].ID, &docs[i], func(e *eventDoc) error {
			if !change(e) {
				return errSkip
			}
			return nil
		})
		if errors.Is(err, webhook.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if wrote {
			n++
		}
	}
	return n, nil
}
