package mongo

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// The management side of the store: listing and counting events, moving
// deliveries back into the queue, users, API keys and the catalog.

// eventFilter is the query shared by EventList's page and count, and by
// EventRecordList. Query is left to matchQuery: it looks into bodies.
func eventFilter(p store.EventListParams) bson.M {
	f := bson.M{}
	if p.Status != "" {
		f["status"] = string(p.Status)
	}
	if p.Source != "" {
		f["source"] = p.Source
	}
	if p.Type != "" {
		f["type"] = p.Type
	}
	if p.Destination != "" {
		f["dl.dest"] = p.Destination
	}
	recv := bson.M{}
	if !p.From.IsZero() {
		recv["$gte"] = tm(p.From)
	}
	if !p.To.IsZero() {
		recv["$lt"] = tm(p.To)
	}
	if len(recv) > 0 {
		f["recv"] = recv
	}
	if p.Before != "" {
		f["_id"] = bson.M{"$lt": p.Before}
	}
	return f
}

// matchQuery is EventListParams.Query: an event id, idempotency key or
// type exactly, or any part of the body.
func matchQuery(e *eventDoc, q string) bool {
	if q == "" || e.ID == q || e.Key == q || e.Type == q {
		return true
	}
	body, err := e.body()
	return err == nil && bodyContains(body, q)
}

func summary(e *eventDoc) (webhook.EventSummary, error) {
	ev, err := e.event(false)
	if err != nil {
		return webhook.EventSummary{}, err
	}
	sum := webhook.EventSummary{Event: ev, BodySize: e.Size, Deliveries: len(e.Deliveries)}
	var lastAt int64
	for _, d := range e.Deliveries {
		sum.Attempts += d.Attempts
		if d.LastError != "" && (sum.LastError == "" || d.Updated > lastAt) {
			sum.LastError, lastAt = d.LastError, d.Updated
		}
	}
	return sum, nil
}

// EventList implements store.Store. Without Query the page and the count
// are queries; with it, the matches are found in Go, as a body search
// needs every body.
func (s *Store) EventList(ctx context.Context, p store.EventListParams) (store.EventListResult, error) {
	res := store.EventListResult{Total: -1, Items: []webhook.EventSummary{}}
	if err := s.open(); err != nil {
		return res, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 20
	}
	offset := max(p.Offset, 0)
	filter := eventFilter(p)
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.M{"dl.log": 0})
	if p.Query == "" {
		if !p.NoTotal {
			n, err := s.events.CountDocuments(ctx, filter)
			if err != nil {
				return res, s.fail("count events", err)
			}
			res.Total = n
		}
		opts.SetSkip(int64(offset)).SetLimit(int64(limit)).SetProjection(bson.M{"dl.log": 0, "body": 0})
	}
	cur, err := s.events.Find(ctx, filter, opts)
	if err != nil {
		return res, s.fail("list events", err)
	}
	defer cur.Close(ctx)
	matched := int64(0)
	for cur.Next(ctx) {
		var e eventDoc
		if err := cur.Decode(&e); err != nil {
			return res, s.fail("list events", err)
		}
		if p.Query != "" {
			if !matchQuery(&e, p.Query) {
				continue
			}
			matched++
			if matched <= int64(offset) || len(res.Items) >= limit {
				continue
			}
		}
		sum, err := summary(&e)
		if err != nil {
			return res, s.fail("list events", err)
		}
		res.Items = append(res.Items, sum)
	}
	if err := cur.Err(); err != nil {
		return res, s.fail("list events", err)
	}
	if p.Query != "" && !p.NoTotal {
		res.Total = matched
	}
	return res, nil
}

// EventCountBySource implements store.Store.
func (s *Store) EventCountBySource(ctx context.Context) ([]store.SourceCount, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	cur, err := s.events.Find(ctx, bson.M{}, options.Find().SetProjection(bson.M{"source": 1, "status": 1}))
	if err != nil {
		return nil, s.fail("count by source", err)
	}
	defer cur.Close(ctx)
	counts := map[string]map[webhook.Status]int64{}
	for cur.Next(ctx) {
		var e struct {
			Source string `bson:"source"`
			Status string `bson:"status"`
		}
		if err := cur.Decode(&e); err != nil {
			return nil, s.fail("count by source", err)
		}
		if counts[e.Source] == nil {
			counts[e.Source] = map[webhook.Status]int64{}
		}
		counts[e.Source][webhook.Status(e.Status)]++
	}
	if err := cur.Err(); err != nil {
		return nil, s.fail("count by source", err)
	}
	var out []store.SourceCount
	for src, c := range counts {
		out = append(out, store.SourceCount{Source: src, Counts: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out, nil
}

// requeue gives a delivery a fresh retry budget, due at now. Attempts
// already made stay recorded; new ones count from 1.
func requeue(d *deliveryDoc, now int64) {
	d.Status, d.Attempts, d.Next, d.Lease, d.Updated = string(webhook.StatusPending), 0, now, "", now
}

// DeliveryRequeue implements store.Store.
func (s *Store) DeliveryRequeue(ctx context.Context, p store.DeliveryRequeueParams) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	if len(p.Statuses) == 0 {
		return 0, nil
	}
	want := map[string]bool{}
	for _, st := range p.Statuses {
		want[string(st)] = true
	}
	var n int
	_, _, err := s.modify(ctx, p.EventID, nil, func(e *eventDoc) error {
		n = 0
		for i := range e.Deliveries {
			if d := &e.Deliveries[i]; want[d.Status] && d.Lease == "" {
				requeue(d, tm(p.Now))
				n++
			}
		}
		if n == 0 {
			return errSkip
		}
		return nil
	})
	if errors.Is(err, webhook.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, s.fail("requeue", err)
	}
	return n, nil
}

// DeliveryRequeueDead implements store.Store.
func (s *Store) DeliveryRequeueDead(ctx context.Context, p store.DeliveryRequeueDeadParams) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	filter, dead := deadFilter(p)
	total := 0
	if p.DryRun {
		err := s.forEachDelivery(ctx, filter, func(_ *eventDoc, d *deliveryDoc) {
			if dead(d) {
				total++
			}
		})
		if err != nil {
			return 0, s.fail("count dead", err)
		}
		return total, nil
	}
	cur, err := s.events.Find(ctx, filter, options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return 0, s.fail("requeue dead", err)
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return 0, s.fail("requeue dead", err)
	}
	for _, id := range ids {
		var n int
		_, wrote, err := s.modify(ctx, id.ID, nil, func(e *eventDoc) error {
			n = 0
			for i := range e.Deliveries {
				if d := &e.Deliveries[i]; dead(d) {
					requeue(d, tm(p.Now))
					n++
				}
			}
			if n == 0 {
				return errSkip
			}
			return nil
		})
		if errors.Is(err, webhook.ErrNotFound) {
			continue
		}
		if err != nil {
			return total, s.fail("requeue dead", err)
		}
		if wrote {
			total += n
		}
	}
	return total, nil
}

// DeliveryInsertMany implements store.Store: one compare-and-set per
// event adds its new deliveries and derives its status.
func (s *Store) DeliveryInsertMany(ctx context.Context, deliveries []webhook.Delivery) error {
	if err := s.open(); err != nil {
		return err
	}
	var order []string
	byEvent := map[string][]webhook.Delivery{}
	for _, d := range deliveries {
		if _, ok := byEvent[d.EventID]; !ok {
			order = append(order, d.EventID)
		}
		byEvent[d.EventID] = append(byEvent[d.EventID], d)
	}
	for _, id := range order {
		_, _, err := s.modify(ctx, id, nil, func(e *eventDoc) error {
			for _, d := range byEvent[id] {
				d.Attempts, d.LastError, d.UpdatedAt = 0, "", d.CreatedAt
				e.Deliveries = append(e.Deliveries, newDeliveryDoc(d))
			}
			return nil
		})
		if errors.Is(err, webhook.ErrNotFound) {
			return fmt.Errorf("delivery for a missing event (%s): %w", id, webhook.ErrNotFound)
		}
		if err != nil {
			return s.fail("insert deliveries", err)
		}
	}
	return nil
}

// insertOne inserts doc, mapping a duplicate key to webhook.ErrConflict.
func (s *Store) insertOne(ctx context.Context, coll, what string, doc any) error {
	if err := s.open(); err != nil {
		return err
	}
	_, err := s.db.Collection(coll).InsertOne(ctx, doc)
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("%s: %w", what, webhook.ErrConflict)
	}
	if err != nil {
		return s.fail("insert "+what, err)
	}
	return nil
}

// updateOne applies update to the document matching filter, or returns
// webhook.ErrNotFound.
func (s *Store) updateOne(ctx context.Context, coll, what string, filter, update bson.M) error {
	if err := s.open(); err != nil {
		return err
	}
	res, err := s.db.Collection(coll).UpdateOne(ctx, filter, update)
	if err != nil {
		return s.fail("update "+what, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%s: %w", what, webhook.ErrNotFound)
	}
	return nil
}

// deleteOne removes the document matching filter, or returns
// webhook.ErrNotFound.
func (s *Store) deleteOne(ctx context.Context, coll, what string, filter bson.M) error {
	if err := s.open(); err != nil {
		return err
	}
	res, err := s.db.Collection(coll).DeleteOne(ctx, filter)
	if err != nil {
		return s.fail("delete "+what, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%s: %w", what, webhook.ErrNotFound)
	}
	return nil
}

// findAll decodes every document matching filter into out.
func (s *Store) findAll(ctx context.Context, coll string, filter bson.M, sortBy bson.D, out any) error {
	if err := s.open(); err != nil {
		return err
	}
	cur, err := s.db.Collection(coll).Find(ctx, filter, options.Find().SetSort(sortBy))
	if err != nil {
		return s.fail("list "+coll, err)
	}
	if err := cur.All(ctx, out); err != nil {
		return s.fail("list "+coll, err)
	}
	return nil
}

type userDoc struct {
	Username string `bson:"_id"`
	Hash     string `bson:"hash"`
	Role     string `bson:"role"`
	Created  int64  `bson:"created"`
	Updated  int64  `bson:"updated"`
}

func (u userDoc) user() webhook.User {
	return webhook.User{Username: u.Username, PasswordHash: u.Hash, Role: u.Role, CreatedAt: fromTm(u.Created), UpdatedAt: fromTm(u.Updated)}
}

// UserCreate implements store.Store.
func (s *Store) UserCreate(ctx context.Context, u webhook.User) error {
	return s.insertOne(ctx, "users", fmt.Sprintf("user %q", u.Username),
		userDoc{Username: u.Username, Hash: u.PasswordHash, Role: u.Role, Created: tm(u.CreatedAt), Updated: tm(u.CreatedAt)})
}

// UserGet implements store.Store.
func (s *Store) UserGet(ctx context.Context, username string) (webhook.User, error) {
	if err := s.open(); err != nil {
		return webhook.User{}, err
	}
	var u userDoc
	err := s.db.Collection("users").FindOne(ctx, bson.M{"_id": username}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return webhook.User{}, fmt.Errorf("user %q: %w", username, webhook.ErrNotFound)
	}
	if err != nil {
		return webhook.User{}, s.fail("get user", err)
	}
	return u.user(), nil
}

// UserList implements store.Store.
func (s *Store) UserList(ctx context.Context) ([]webhook.User, error) {
	var docs []userDoc
	if err := s.findAll(ctx, "users", bson.M{}, bson.D{{Key: "_id", Value: 1}}, &docs); err != nil {
		return nil, err
	}
	out := make([]webhook.User, len(docs))
	for i, d := range docs {
		out[i] = d.user()
	}
	return out, nil
}

// UserUpdate implements store.Store.
func (s *Store) UserUpdate(ctx context.Context, p store.UserUpdateParams) error {
	set := bson.M{"updated": tm(p.Now)}
	if p.PasswordHash != nil {
		set["hash"] = *p.PasswordHash
	}
	if p.Role != nil {
		set["role"] = *p.Role
	}
	return s.updateOne(ctx, "users", "user "+p.Username, bson.M{"_id": p.Username}, bson.M{"$set": set})
}

// UserDelete implements store.Store.
func (s *Store) UserDelete(ctx context.Context, username string) error {
	return s.deleteOne(ctx, "users", "user "+username, bson.M{"_id": username})
}

// UserCount implements store.Store.
func (s *Store) UserCount(ctx context.Context) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	n, err := s.db.Collection("users").CountDocuments(ctx, bson.M{})
	if err != nil {
		return 0, s.fail("count users", err)
	}
	return int(n), nil
}

type apiKeyDoc struct {
	ID      string `bson:"_id"`
	Name    string `bson:"name"`
	Hash    string `bson:"hash"`
	Role    string `bson:"role"`
	Created int64  `bson:"created"`
	Used    int64  `bson:"used"`
}

func (k apiKeyDoc) key() webhook.APIKey {
	return webhook.APIKey{ID: k.ID, Name: k.Name, Hash: k.Hash, Role: k.Role, CreatedAt: fromTm(k.Created), LastUsedAt: fromTm(k.Used)}
}

// APIKeyCreate implements store.Store.
func (s *Store) APIKeyCreate(ctx context.Context, k webhook.APIKey) error {
	return s.insertOne(ctx, "api_keys", fmt.Sprintf("api key %q", k.ID),
		apiKeyDoc{ID: k.ID, Name: k.Name, Hash: k.Hash, Role: k.Role, Created: tm(k.CreatedAt), Used: tm(k.LastUsedAt)})
}

// APIKeyGetByHash implements store.Store.
func (s *Store) APIKeyGetByHash(ctx context.Context, hash string) (webhook.APIKey, error) {
	if err := s.open(); err != nil {
		return webhook.APIKey{}, err
	}
	var k apiKeyDoc
	err := s.db.Collection("api_keys").FindOne(ctx, bson.M{"hash": hash}).Decode(&k)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return webhook.APIKey{}, fmt.Errorf("api key: %w", webhook.ErrNotFound)
	}
	if err != nil {
		return webhook.APIKey{}, s.fail("get api key", err)
	}
	return k.key(), nil
}

// APIKeyList implements store.Store.
func (s *Store) APIKeyList(ctx context.Context) ([]webhook.APIKey, error) {
	var docs []apiKeyDoc
	if err := s.findAll(ctx, "api_keys", bson.M{}, bson.D{{Key: "created", Value: -1}, {Key: "_id", Value: -1}}, &docs); err != nil {
		return nil, err
	}
	out := make([]webhook.APIKey, len(docs))
	for i, d := range docs {
		out[i] = d.key()
	}
	return out, nil
}

// APIKeyDelete implements store.Store.
func (s *Store) APIKeyDelete(ctx context.Context, id string) error {
	return s.deleteOne(ctx, "api_keys", "api key "+id, bson.M{"_id": id})
}

type catalogDoc struct {
	ID      string `bson:"_id"` // kind, NUL, name
	Kind    string `bson:"kind"`
	Name    string `bson:"name"`
	Doc     string `bson:"doc"`
	Created int64  `bson:"created"`
	Updated int64  `bson:"updated"`
}

// CatalogList implements store.Store.
func (s *Store) CatalogList(ctx context.Context, kind store.CatalogKind) ([]store.CatalogEntry, error) {
	var docs []catalogDoc
	if err := s.findAll(ctx, "catalog", bson.M{"kind": string(kind)}, bson.D{{Key: "name", Value: 1}}, &docs); err != nil {
		return nil, err
	}
	out := make([]store.CatalogEntry, len(docs))
	for i, d := range docs {
		out[i] = store.CatalogEntry{Name: d.Name, Doc: []byte(d.Doc), CreatedAt: fromTm(d.Created), UpdatedAt: fromTm(d.Updated)}
	}
	return out, nil
}

// CatalogPut implements store.Store.
func (s *Store) CatalogPut(ctx context.Context, p store.CatalogPutParams) error {
	what := fmt.Sprintf("%s %q", p.Kind, p.Name)
	id := string(p.Kind) + "\x00" + p.Name
	if p.Create {
		return s.insertOne(ctx, "catalog", what, catalogDoc{ID: id, Kind: string(p.Kind), Name: p.Name, Doc: string(p.Doc), Created: tm(p.Now), Updated: tm(p.Now)})
	}
	return s.updateOne(ctx, "catalog", what, bson.M{"_id": id}, bson.M{"$set": bson.M{"doc": string(p.Doc), "updated": tm(p.Now)}})
}

// CatalogDelete implements store.Store.
func (s *Store) CatalogDelete(ctx context.Context, kind store.CatalogKind, name string) error {
	return s.deleteOne(ctx, "catalog", fmt.Sprintf("%s %q", kind, name), bson.M{"_id": string(kind) + "\x00" + name})
}

type stateDoc struct {
	Destination    string `bson:"_id"`
	Circuit        string `bson:"circuit"`
	Failures       int    `bson:"failures"`
	Trips          int    `bson:"trips"`
	FailingSince   int64  `bson:"failing_since"`
	OpenUntil      int64  `bson:"open_until"`
	LastError      string `bson:"last_error"`
	DisabledAt     int64  `bson:"disabled_at"`
	DisabledReason string `bson:"disabled_reason"`
	Updated        int64  `bson:"updated"`
	Version        int64  `bson:"version"`
}

func (d stateDoc) state() store.DestinationState {
	return store.DestinationState{
		Destination: d.Destination, Circuit: store.Circuit(d.Circuit), ConsecutiveFailures: d.Failures, Trips: d.Trips,
		FailingSince: fromTm(d.FailingSince), OpenUntil: fromTm(d.OpenUntil), LastError: d.LastError,
		DisabledAt: fromTm(d.DisabledAt), DisabledReason: d.DisabledReason, UpdatedAt: fromTm(d.Updated), Version: d.Version,
	}
}

// DestinationStateList implements store.Store.
func (s *Store) DestinationStateList(ctx context.Context) ([]store.DestinationState, error) {
	var docs []stateDoc
	if err := s.findAll(ctx, "destination_states", bson.M{}, bson.D{{Key: "_id", Value: 1}}, &docs); err != nil {
		return nil, err
	}
	out := make([]store.DestinationState, len(docs))
	for i, d := range docs {
		out[i] = d.state()
	}
	return out, nil
}

// DestinationStateGet implements store.Store.
func (s *Store) DestinationStateGet(ctx context.Context, destination string) (store.DestinationState, error) {
	if err := s.open(); err != nil {
		return store.DestinationState{}, err
	}
	var d stateDoc
	err := s.db.Collection("destination_states").FindOne(ctx, bson.M{"_id": destination}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return store.DestinationState{}, fmt.Errorf("destination state %s: %w", destination, webhook.ErrNotFound)
	}
	if err != nil {
		return store.DestinationState{}, s.fail("get destination state", err)
	}
	return d.state(), nil
}

// DestinationStatePut implements store.Store: an insert for version 0
// (refused by the _id index if another writer stored one first), else an
// update filtered on the version, so every write is a compare-and-set.
func (s *Store) DestinationStatePut(ctx context.Context, st store.DestinationState) (store.DestinationState, error) {
	if err := s.open(); err != nil {
		return store.DestinationState{}, err
	}
	out := st
	out.Version = st.Version + 1
	doc := stateDoc{
		Destination: st.Destination, Circuit: string(st.Circuit), Failures: st.ConsecutiveFailures, Trips: st.Trips,
		FailingSince: tm(st.FailingSince), OpenUntil: tm(st.OpenUntil), LastError: st.LastError,
		DisabledAt: tm(st.DisabledAt), DisabledReason: st.DisabledReason, Updated: tm(st.UpdatedAt), Version: out.Version,
	}
	coll := s.db.Collection("destination_states")
	defer s.lock("state\x00" + st.Destination)()
	conflict := fmt.Errorf("destination state %s changed since version %d: %w", st.Destination, st.Version, webhook.ErrConflict)
	if st.Version == 0 {
		_, err := coll.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return store.DestinationState{}, conflict
		}
		if err != nil {
			return store.DestinationState{}, s.fail("put destination state", err)
		}
		return out, nil
	}
	res, err := coll.ReplaceOne(ctx, bson.M{"_id": st.Destination, "version": st.Version}, doc)
	if err != nil {
		return store.DestinationState{}, s.fail("put destination state", err)
	}
	if res.MatchedCount == 0 {
		return store.DestinationState{}, conflict
	}
	return out, nil
}
