package mongo

import (
	"bytes"
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

// getDoc reads one event document.
func (s *Store) getDoc(ctx context.Context, id string) (eventDoc, error) {
	var e eventDoc
	err := s.events.FindOne(ctx, bson.M{"_id": id}).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return e, fmt.Errorf("event %s: %w", id, webhook.ErrNotFound)
	}
	if err != nil {
		return e, s.fail("get event", err)
	}
	return e, nil
}

// EventGet implements store.Store.
func (s *Store) EventGet(ctx context.Context, id string) (webhook.Event, error) {
	if err := s.open(); err != nil {
		return webhook.Event{}, err
	}
	e, err := s.getDoc(ctx, id)
	if err != nil {
		return webhook.Event{}, err
	}
	return e.event(true)
}

// DeliveryListByEvent implements store.Store.
func (s *Store) DeliveryListByEvent(ctx context.Context, eventID string) ([]webhook.Delivery, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	e, err := s.getDoc(ctx, eventID)
	if errors.Is(err, webhook.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]webhook.Delivery, len(e.Deliveries))
	for i := range e.Deliveries {
		out[i] = e.Deliveries[i].delivery(e.ID)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// AttemptListByDelivery implements store.Store.
func (s *Store) AttemptListByDelivery(ctx context.Context, deliveryID string) ([]webhook.Attempt, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	var e eventDoc
	err := s.events.FindOne(ctx, bson.M{"dl.id": deliveryID}).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail("list attempts", err)
	}
	var out []webhook.Attempt
	for _, d := range e.Deliveries {
		if d.ID == deliveryID {
			for _, a := range d.Log {
				out = append(out, a.attempt(d.ID))
			}
		}
	}
	sortAttempts(out)
	return out, nil
}

func sortAttempts(as []webhook.Attempt) {
	sort.SliceStable(as, func(i, j int) bool {
		if !as[i].StartedAt.Equal(as[j].StartedAt) {
			return as[i].StartedAt.Before(as[j].StartedAt)
		}
		return as[i].ID < as[j].ID
	})
}

// DeliveryListWaiting implements store.Store. Deliveries are not
// documents of their own, so the page is cut in Go from every event with a
// delivery waiting; only a queue rebuilding itself at start calls it.
func (s *Store) DeliveryListWaiting(ctx context.Context, p store.DeliveryListWaitingParams) ([]webhook.Delivery, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	limit := max(p.Limit, 1)
	cur, err := s.events.Find(ctx, bson.M{"due": bson.M{"$exists": true}, "dl.id": bson.M{"$gt": p.After}},
		options.Find().SetProjection(bson.M{"dl.log": 0, "body": 0}))
	if err != nil {
		return nil, s.fail("list waiting", err)
	}
	var out []webhook.Delivery
	for cur.Next(ctx) {
		var e eventDoc
		if err := cur.Decode(&e); err != nil {
			return nil, s.fail("list waiting", err)
		}
		for i := range e.Deliveries {
			if d := &e.Deliveries[i]; d.ID > p.After && waiting(d.Status) {
				out = append(out, d.delivery(e.ID))
			}
		}
	}
	if err := cur.Err(); err != nil {
		return nil, s.fail("list waiting", err)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// forEachDelivery calls fn for every delivery of the events matching
// filter, read without bodies or attempts.
func (s *Store) forEachDelivery(ctx context.Context, filter bson.M, fn func(e *eventDoc, d *deliveryDoc)) error {
	cur, err := s.events.Find(ctx, filter, options.Find().SetProjection(bson.M{"dl.log": 0, "body": 0}))
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var e eventDoc
		if err := cur.Decode(&e); err != nil {
			return err
		}
		for i := range e.Deliveries {
			fn(&e, &e.Deliveries[i])
		}
	}
	return cur.Err()
}

// QueueStats implements store.Store.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	var st store.QueueStats
	if err := s.open(); err != nil {
		return st, err
	}
	n := tm(now)
	err := s.forEachDelivery(ctx, bson.M{"$or": bson.A{
		bson.M{"due": bson.M{"$exists": true}},
		bson.M{"dl.status": string(webhook.StatusPermanentFailure)},
	}}, func(_ *eventDoc, d *deliveryDoc) {
		switch {
		case d.Status == string(webhook.StatusPermanentFailure):
			st.Dead++
		case !waiting(d.Status):
		case d.Next <= n:
			st.Ready++
		case d.Lease == "":
			st.Scheduled++
		default:
			st.InFlight++
		}
	})
	if err != nil {
		return st, s.fail("queue stats", err)
	}
	return st, nil
}

// SettingGet implements store.Store.
func (s *Store) SettingGet(ctx context.Context, key string) (string, error) {
	if err := s.open(); err != nil {
		return "", err
	}
	var doc struct {
		Value string `bson:"value"`
	}
	err := s.db.Collection("settings").FindOne(ctx, bson.M{"_id": key}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", fmt.Errorf("setting %s: %w", key, webhook.ErrNotFound)
	}
	if err != nil {
		return "", s.fail("get setting", err)
	}
	return doc.Value, nil
}

// SettingPutIfAbsent implements store.Store: an insert that the _id index
// refuses when the key is there, then a read of what is stored.
func (s *Store) SettingPutIfAbsent(ctx context.Context, key, value string) (string, error) {
	if err := s.open(); err != nil {
		return "", err
	}
	_, err := s.db.Collection("settings").InsertOne(ctx, bson.M{"_id": key, "value": value})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return "", s.fail("put setting", err)
	}
	return s.SettingGet(ctx, key)
}

// bodyContains reports whether the body holds q; EventList's Query looks
// into bodies, which MongoDB cannot search as bytes.
func bodyContains(body []byte, q string) bool { return bytes.Contains(body, []byte(q)) }
