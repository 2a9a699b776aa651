package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Ordered delivery (docs/ordering.md). An ordered delivery carries its key
// (okey) and position (oseq); it is leased only when no earlier delivery
// of its destination and key is pending or failed. The check is read
// before the lease's compare-and-set: a predecessor only moves forward
// (pending or failed to success or permanent_failure) except through a
// person's replay, so a check that found none unfinished stays true.
// Blocked candidates are parked (due again at their predecessor's next
// attempt time or the lease's end) and the record of their predecessor's
// last attempt makes them due at once.

// orderingCounter is the meta document counting inserted batches that hold
// ordered deliveries.
const orderingCounter = "ordering_seq"

// orderingSeqs gives each ordered delivery of params its position: one
// counter value per batch, times 2^20, plus its place in the batch (params
// are in the order the batch was accepted in).
func (s *Store) orderingSeqs(ctx context.Context, params []store.EventInsertParams) (map[string]int64, error) {
	var seqs map[string]int64
	place := int64(0)
	for _, p := range params {
		for _, d := range p.Deliveries {
			place++
			if d.Ordered {
				if seqs == nil {
					seqs = map[string]int64{}
				}
				seqs[d.ID] = place
			}
		}
	}
	if seqs == nil {
		return nil, nil
	}
	var c struct {
		N int64 `bson:"n"`
	}
	err := s.db.Collection("meta").FindOneAndUpdate(ctx, bson.M{"_id": orderingCounter}, bson.M{"$inc": bson.M{"n": 1}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&c)
	if err != nil {
		return nil, fmt.Errorf("ordering counter: %w", err)
	}
	for id, p := range seqs {
		seqs[id] = c.N<<20 + p
	}
	return seqs, nil
}

// ordered sets an ordered delivery's key and position on its document.
func ordered(doc deliveryDoc, d webhook.Delivery, seqs map[string]int64) deliveryDoc {
	if d.Ordered {
		key := d.OrderingKey
		doc.OKey, doc.OSeq = &key, seqs[d.ID]
	}
	return doc
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// neighbour finds the unfinished delivery of dest and key nearest to
// position seq: the latest before it (before set) or the first after it.
func (s *Store) neighbour(ctx context.Context, dest, key string, seq int64, before bool) (deliveryDoc, string, bool, error) {
	// Dotted conditions, not $elemMatch (FerretDB v1 lacks it there): they
	// may match across deliveries of one event, so the loop below checks
	// each delivery itself.
	cur, err := s.events.Find(ctx, bson.M{"dl.dest": dest, "dl.okey": key, "due": bson.M{"$exists": true}})
	if err != nil {
		return deliveryDoc{}, "", false, err
	}
	defer cur.Close(ctx)
	var (
		best    deliveryDoc
		eventID string
		found   bool
	)
	for cur.Next(ctx) {
		var e eventDoc
		if err := cur.Decode(&e); err != nil {
			return deliveryDoc{}, "", false, err
		}
		for _, d := range e.Deliveries {
			if d.Destination != dest || d.OKey == nil || *d.OKey != key || !waiting(d.Status) {
				continue
			}
			if (before && d.OSeq < seq && (!found || d.OSeq > best.OSeq)) || (!before && d.OSeq > seq && (!found || d.OSeq < best.OSeq)) {
				best, eventID, found = d, e.ID, true
			}
		}
	}
	return best, eventID, found, cur.Err()
}

// orderCandidates drops the ordered candidates that wait for an earlier
// delivery of their key, parking them, and returns the rest and what it
// parked.
func (s *Store) orderCandidates(ctx context.Context, cands []candidate, until int64) ([]candidate, []store.BlockedDelivery, error) {
	var (
		kept    = cands[:0:0]
		blocked []store.BlockedDelivery
		fresh   = map[string]*eventDoc{} // documents rewritten by a park
	)
	for _, c := range cands {
		if f, ok := fresh[c.doc.ID]; ok {
			c.doc = f
		}
		var d *deliveryDoc
		for i := range c.doc.Deliveries {
			if c.doc.Deliveries[i].ID == c.id {
				d = &c.doc.Deliveries[i]
			}
		}
		if d == nil || d.OKey == nil {
			kept = append(kept, c)
			continue
		}
		pred, _, found, err := s.neighbour(ctx, d.Destination, *d.OKey, d.OSeq, true)
		if err != nil {
			return nil, nil, err
		}
		if !found {
			kept = append(kept, c)
			continue
		}
		at := max(pred.Next, until)
		e, wrote, err := s.modify(ctx, c.doc.ID, nil, func(e *eventDoc) error {
			for i := range e.Deliveries {
				x := &e.Deliveries[i]
				if x.ID == c.id && waiting(x.Status) && x.Lease == "" && x.Next < at {
					x.Next = at
					return nil
				}
			}
			return errSkip
		})
		if errors.Is(err, webhook.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if wrote {
			fresh[e.ID] = &e
		}
		blocked = append(blocked, store.BlockedDelivery{ID: c.id, Destination: d.Destination, After: pred.ID, Until: fromTm(at)})
	}
	for i := range kept {
		if f, ok := fresh[kept[i].doc.ID]; ok {
			kept[i].doc = f
		}
	}
	return kept, blocked, nil
}

// unparkNext makes the next delivery of each ordered delivery that the
// recorded params (idx into params) finished in document e due at once,
// if it is parked (pending, not leased, not yet due). A successor waiting
// for a retry keeps its backoff.
func (s *Store) unparkNext(ctx context.Context, e *eventDoc, params []store.AttemptRecordParams, idx []int) error {
	for _, i := range idx {
		p := params[i]
		if !p.Status.Terminal() {
			continue
		}
		for _, d := range e.Deliveries {
			if d.ID != p.Attempt.DeliveryID || d.OKey == nil || d.Status != string(p.Status) {
				continue
			}
			next, eventID, found, err := s.neighbour(ctx, d.Destination, *d.OKey, d.OSeq, false)
			if err != nil || !found {
				return err
			}
			now := tm(p.UpdatedAt)
			_, _, err = s.modify(ctx, eventID, nil, func(e *eventDoc) error {
				for j := range e.Deliveries {
					x := &e.Deliveries[j]
					if x.ID == next.ID && x.Status == string(webhook.StatusPending) && x.Lease == "" && x.Next > now {
						x.Next = now
						return nil
					}
				}
				return errSkip
			})
			if err != nil && !errors.Is(err, webhook.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}
