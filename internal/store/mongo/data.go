package mongo

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Data care: retention, import, export and usage.

// EventDeleteFinished implements store.Store as a batched delete: it reads
// up to Limit finished events (no due time: no delivery waits) received
// before Before, oldest first, and deletes them with one deleteMany whose
// filter names each with the version read. An event that a replay or
// requeue changed meanwhile has a new version and stays; deliveries and
// attempts go with their event's document. Processes running retention at
// once may pick the same events; each is deleted once and counted by the
// process whose delete removed it.
func (s *Store) EventDeleteFinished(ctx context.Context, p store.EventDeleteFinishedParams) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	if p.Limit <= 0 {
		return 0, nil
	}
	cur, err := s.events.Find(ctx, bson.M{
		"recv":   bson.M{"$lt": tm(p.Before)},
		"status": bson.M{"$in": bson.A{string(webhook.StatusSuccess), string(webhook.StatusPermanentFailure)}},
		"due":    bson.M{"$exists": false},
	}, options.Find().SetSort(bson.D{{Key: "recv", Value: 1}}).SetLimit(int64(p.Limit)).SetProjection(bson.M{"_id": 1, "v": 1}))
	if err != nil {
		return 0, s.fail("delete finished events", err)
	}
	var found []struct {
		ID string `bson:"_id"`
		V  int64  `bson:"v"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return 0, s.fail("delete finished events", err)
	}
	if len(found) == 0 {
		return 0, nil
	}
	or := make(bson.A, len(found))
	ids := make([]string, len(found))
	for i, f := range found {
		or[i] = bson.M{"_id": f.ID, "v": f.V}
		ids[i] = f.ID
	}
	defer s.lock(ids...)()
	res, err := s.events.DeleteMany(ctx, bson.M{"$or": or})
	if err != nil {
		return 0, s.fail("delete finished events", err)
	}
	return int(res.DeletedCount), nil
}

// EventImportMany implements store.Store with one unordered insertMany of
// whole documents; those refused by the _id or ikey index are stored
// already and are skipped.
func (s *Store) EventImportMany(ctx context.Context, records []store.EventRecord) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	seenID, seenKey := map[string]bool{}, map[string]bool{}
	var docs []any
	for _, r := range records {
		k := ikey(r.Event.Source, r.Event.IdempotencyKey)
		if seenID[r.Event.ID] || (k != "" && seenKey[k]) {
			continue
		}
		seenID[r.Event.ID] = true
		if k != "" {
			seenKey[k] = true
		}
		e, err := newEventDoc(r.Event, s.compressOver)
		if err != nil {
			return 0, err
		}
		for _, dr := range r.Deliveries {
			d := newDeliveryDoc(dr.Delivery)
			for _, a := range dr.Attempts {
				d.Log = append(d.Log, attemptDoc{
					ID: a.ID, Number: a.Number, Started: tm(a.StartedAt), Duration: a.Duration.Microseconds(),
					Code: a.StatusCode, Body: a.ResponseBody, Error: a.Error, Reason: string(a.Reason),
				})
			}
			e.Deliveries = append(e.Deliveries, d)
		}
		status := e.Status
		e.refresh()
		e.Status = status // stored as given
		docs = append(docs, e)
	}
	if len(docs) == 0 {
		return 0, nil
	}
	res, err := s.events.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	switch {
	case err == nil:
		return len(res.InsertedIDs), nil
	case errors.As(err, &bwe) && bwe.WriteConcernError == nil:
		for _, we := range bwe.WriteErrors {
			if we.Code != 11000 {
				return 0, s.fail("import events", err)
			}
		}
		return len(docs) - len(bwe.WriteErrors), nil
	default:
		return 0, s.fail("import events", err)
	}
}

// EventRecordList implements store.Store. A record is one document, read
// whole, so a retention pass running meanwhile cannot split one.
func (s *Store) EventRecordList(ctx context.Context, p store.EventListParams) ([]store.EventRecord, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}})
	if p.Query == "" {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.events.Find(ctx, eventFilter(p), opts)
	if err != nil {
		return nil, s.fail("list records", err)
	}
	defer cur.Close(ctx)
	var out []store.EventRecord
	for len(out) < limit && cur.Next(ctx) {
		var e eventDoc
		if err := cur.Decode(&e); err != nil {
			return nil, s.fail("list records", err)
		}
		if !matchQuery(&e, p.Query) {
			continue
		}
		ev, err := e.event(true)
		if err != nil {
			return nil, s.fail("list records", err)
		}
		r := store.EventRecord{Event: ev}
		for _, d := range e.Deliveries {
			dr := store.DeliveryRecord{Delivery: d.delivery(e.ID)}
			for _, a := range d.Log {
				dr.Attempts = append(dr.Attempts, a.attempt(d.ID))
			}
			sortAttempts(dr.Attempts)
			r.Deliveries = append(r.Deliveries, dr)
		}
		sortDeliveryRecords(r.Deliveries)
		out = append(out, r)
	}
	if err := cur.Err(); err != nil {
		return nil, s.fail("list records", err)
	}
	return out, nil
}

func sortDeliveryRecords(ds []store.DeliveryRecord) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].Delivery.ID < ds[j-1].Delivery.ID; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// UsageGet implements store.Store. The size is the database's totalSize
// from dbStats (data and indexes); the counts read every event without
// its body.
func (s *Store) UsageGet(ctx context.Context) (store.Usage, error) {
	u := store.Usage{Events: map[webhook.Status]int64{}, Deliveries: map[webhook.Status]int64{}}
	if err := s.open(); err != nil {
		return u, err
	}
	var st struct {
		TotalSize   float64 `bson:"totalSize"`
		DataSize    float64 `bson:"dataSize"`
		IndexSize   float64 `bson:"indexSize"`
		StorageSize float64 `bson:"storageSize"`
	}
	var raw bson.M
	if err := s.db.RunCommand(ctx, bson.D{{Key: "dbStats", Value: 1}}).Decode(&raw); err != nil {
		return u, s.fail("usage size", err)
	}
	num := func(k string) float64 {
		switch v := raw[k].(type) {
		case int32:
			return float64(v)
		case int64:
			return float64(v)
		case float64:
			return v
		}
		return 0
	}
	st.TotalSize, st.StorageSize, st.IndexSize = num("totalSize"), num("storageSize"), num("indexSize")
	u.SizeBytes = int64(st.TotalSize)
	if u.SizeBytes == 0 {
		u.SizeBytes = int64(st.StorageSize + st.IndexSize)
	}
	cur, err := s.events.Find(ctx, bson.M{}, options.Find().SetProjection(bson.M{"body": 0}))
	if err != nil {
		return u, s.fail("usage", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var e eventDoc
		if err := cur.Decode(&e); err != nil {
			return u, s.fail("usage", err)
		}
		u.Events[webhook.Status(e.Status)]++
		if r := fromTm(e.Received); u.OldestEvent.IsZero() || r.Before(u.OldestEvent) {
			u.OldestEvent = r
		}
		for _, d := range e.Deliveries {
			u.Deliveries[webhook.Status(d.Status)]++
			u.Attempts += int64(len(d.Log))
		}
	}
	if err := cur.Err(); err != nil {
		return u, s.fail("usage", err)
	}
	return u, nil
}
