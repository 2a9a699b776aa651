// Package mongo is hookd's store on MongoDB (6 or later, or a server that
// speaks its wire protocol, such as FerretDB) through the official driver,
// go.mongodb.org/mongo-driver/v2. It is held to the same conformance suite
// (storetest) as the SQLite and PostgreSQL stores and means the same thing
// by every method; only the shape of the data and the concurrency story
// differ.
//
// Shape. An event is one document that embeds its deliveries, and each
// delivery its attempts (docs/storage.md). Storing an event with its
// deliveries is therefore one atomic insert, and every change to a delivery
// (a claim, an attempt's result, a lease handed back, a requeue) is one
// atomic update of its event's document, which also recomputes the event's
// status in the same write. Nothing here needs multi-document transactions,
// TTL indexes or change streams, which FerretDB v1 lacks.
//
// Concurrency. Each event document carries a version, v. A write reads the
// document, changes it in Go and replaces its mutable fields with an update
// filtered on the version it read (optimistic compare-and-set); a write
// that lost the race reads again and decides again. Two claimers can thus
// never lease the same delivery, a result whose lease token no longer
// matches leaves the delivery alone, and many hookd processes may share
// one database. This driver uses only plain equality filters and $set,
// because FerretDB v1 implements neither arrayFilters nor $elemMatch on
// embedded documents.
//
// The queue. Each event keeps due, the earliest next attempt time of its
// deliveries that are not finished (a lease moves a delivery's next
// attempt time to the lease's end, as in the other stores), and an index
// on (dl.dest, due). A claim walks a destination's events in due order and
// stops as soon as an event's due is later than the deliveries it already
// holds, so it reads little more than it leases.
//
// FerretDB. FerretDB v1 evaluates an update's or delete's filter and then
// writes by _id, not atomically, so two writers can both pass the version
// filter. This process therefore also serializes its own writes per
// document (striped locks), which keeps one hookd process correct on
// FerretDB, and there names the document of a write by _id alone: FerretDB
// finds a document by index only for a filter that is exactly {_id: …} and
// scans the collection for any other, while its version filter protected
// nothing. Several processes sharing one database need MongoDB itself,
// whose filtered single-document writes are atomic.
//
// Idempotency. A unique sparse index on ikey, the source and idempotency
// key joined by a NUL byte and set only on events that have a key, lets
// one insert of a duplicate fail whatever the process; the driver then
// reads the first event. (A partial index would do without the extra
// field, but FerretDB v1 lacks partial indexes.)
//
// Durability. Writes use the client's write concern, majority by default
// on a replica set; an event's 202 waits for its insert to be acknowledged.
// Like the PostgreSQL store this one does not implement store.Exclusive: a
// lease found at start may belong to a live process.
package mongo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Store is the MongoDB implementation of store.Store. It is safe for
// concurrent use by any number of Stores in any number of processes.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	events *mongo.Collection
	closed atomic.Bool
	// compressOver is the body size above which event bodies are stored
	// compressed; 0 stores every body as received.
	compressOver int
	// ferret is set when the server is FerretDB; see "FerretDB" in the
	// package comment.
	ferret bool
	// locks serialize this process's compare-and-set writes per document
	// (striped by id); see "FerretDB" in the package comment.
	locks [64]sync.Mutex
}

// lock takes the stripes of ids in a fixed order and returns their unlock.
func (s *Store) lock(ids ...string) func() {
	seen := map[int]bool{}
	var idx []int
	for _, id := range ids {
		h := fnv.New32a()
		h.Write([]byte(id))
		i := int(h.Sum32() % uint32(len(s.locks)))
		if !seen[i] {
			seen[i] = true
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	for _, i := range idx {
		s.locks[i].Lock()
	}
	return func() {
		for _, i := range idx {
			s.locks[i].Unlock()
		}
	}
}

var _ store.Store = (*Store)(nil)

// DefaultDatabase is used when the URL names none.
const DefaultDatabase = "hookd"

// Open connects to the server at url (mongodb:// or mongodb+srv://; the
// path names the database, hookd by default) and creates or upgrades the
// collections and indexes.
func Open(ctx context.Context, url string) (*Store, error) {
	cs, err := connstring.ParseAndValidate(url)
	if err != nil {
		return nil, fmt.Errorf("mongo: parse url: %w", err)
	}
	name := cs.Database
	if name == "" {
		name = DefaultDatabase
	}
	client, err := mongo.Connect(options.Client().ApplyURI(url).SetAppName("hookd"))
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	db := client.Database(name)
	s := &Store{client: client, db: db, events: db.Collection("events")}
	var info bson.M
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err == nil {
		_, s.ferret = info["ferretdbVersion"]
	}
	if err := s.migrate(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

// Close disconnects; it is idempotent. Calls after Close fail with an
// error wrapping webhook.ErrClosed.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.client.Disconnect(ctx)
	}
	return nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.open(); err != nil {
		return err
	}
	if err := s.client.Ping(ctx, nil); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

func (s *Store) open() error {
	if s.closed.Load() {
		return fmt.Errorf("mongo: %w", webhook.ErrClosed)
	}
	return nil
}

func (s *Store) fail(op string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("mongo: %s: %w (%w)", op, webhook.ErrClosed, err)
	}
	return fmt.Errorf("mongo: %s: %w", op, err)
}

// Times are stored as int64 microseconds since the Unix epoch, not BSON
// dates, which hold milliseconds only; microseconds are what PostgreSQL
// keeps. The zero time is stored as 0.
func tm(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromTm(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// eventDoc is an event document.
type eventDoc struct {
	ID     string `bson:"_id"`
	Source string `bson:"source"`
	Type   string `bson:"type"`
	Body   []byte `bson:"body"`
	Size   int    `bson:"size"`
	// Gzip marks a body stored compressed (store.CompressBody); Size is
	// then its length as received.
	Gzip        bool          `bson:"gz,omitempty"`
	ContentType string        `bson:"ctype"`
	Headers     string        `bson:"headers"`
	Key         string        `bson:"key,omitempty"`
	IKey        string        `bson:"ikey,omitempty"`
	Received    int64         `bson:"recv"`
	Status      string        `bson:"status"`
	Due         *int64        `bson:"due,omitempty"`
	V           int64         `bson:"v"`
	Deliveries  []deliveryDoc `bson:"dl"`
}

// deliveryDoc is a delivery inside its event's document.
type deliveryDoc struct {
	ID          string       `bson:"id"`
	Destination string       `bson:"dest"`
	Status      string       `bson:"status"`
	Attempts    int          `bson:"n"`
	Next        int64        `bson:"next"`
	Lease       string       `bson:"lease"`
	LastError   string       `bson:"err"`
	LastReason  string       `bson:"reason,omitempty"`
	Created     int64        `bson:"created"`
	Updated     int64        `bson:"updated"`
	Log         []attemptDoc `bson:"log"`
	// OKey and OSeq are an ordered delivery's key and position
	// (ordering.go); absent for an unordered one.
	OKey *string `bson:"okey,omitempty"`
	OSeq int64   `bson:"oseq,omitempty"`
}

// attemptDoc is an attempt inside its delivery.
type attemptDoc struct {
	ID       string `bson:"id"`
	Number   int    `bson:"n"`
	Started  int64  `bson:"start"`
	Duration int64  `bson:"dur_us"`
	Code     int    `bson:"code"`
	Body     []byte `bson:"body"`
	Error    string `bson:"err"`
	Reason   string `bson:"reason,omitempty"`
}

func waiting(status string) bool {
	return status == string(webhook.StatusPending) || status == string(webhook.StatusFailed)
}

func ikey(source, key string) string {
	if key == "" {
		return ""
	}
	return source + "\x00" + key
}

// refresh recomputes what derives from the deliveries: the event's status
// and its due time.
func (e *eventDoc) refresh() {
	counts := map[webhook.Status]int{}
	e.Due = nil
	for _, d := range e.Deliveries {
		counts[webhook.Status(d.Status)]++
		if waiting(d.Status) && (e.Due == nil || d.Next < *e.Due) {
			next := d.Next
			e.Due = &next
		}
	}
	e.Status = string(webhook.DeriveEventStatus(counts))
}

func (e *eventDoc) event(withBody bool) (webhook.Event, error) {
	ev := webhook.Event{
		ID: e.ID, Source: e.Source, Type: e.Type, ContentType: e.ContentType,
		IdempotencyKey: e.Key, ReceivedAt: fromTm(e.Received), Status: webhook.Status(e.Status),
	}
	if withBody {
		body, err := e.body()
		if err != nil {
			return ev, err
		}
		ev.Body = body
		if e.Headers != "" {
			if err := json.Unmarshal([]byte(e.Headers), &ev.Headers); err != nil {
				return ev, fmt.Errorf("event %s headers: %w", e.ID, err)
			}
		}
	}
	return ev, nil
}

func (d *deliveryDoc) delivery(eventID string) webhook.Delivery {
	return webhook.Delivery{
		ID: d.ID, EventID: eventID, Destination: d.Destination, Status: webhook.Status(d.Status),
		Attempts: d.Attempts, NextAttemptAt: fromTm(d.Next), LastError: d.LastError, LastReason: webhook.FailureReason(d.LastReason),
		CreatedAt: fromTm(d.Created), UpdatedAt: fromTm(d.Updated),
		Ordered: d.OKey != nil, OrderingKey: deref(d.OKey),
	}
}

func (a *attemptDoc) attempt(deliveryID string) webhook.Attempt {
	return webhook.Attempt{
		ID: a.ID, DeliveryID: deliveryID, Number: a.Number, StartedAt: fromTm(a.Started),
		Duration: time.Duration(a.Duration) * time.Microsecond, StatusCode: a.Code, ResponseBody: a.Body, Error: a.Error,
		Reason: webhook.FailureReason(a.Reason),
	}
}

// body is the event's body as received.
func (e *eventDoc) body() ([]byte, error) {
	if !e.Gzip {
		return e.Body, nil
	}
	b, err := store.ExpandBody(e.Body, sql.NullInt64{Int64: int64(e.Size), Valid: true})
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return b, nil
}

// newEventDoc is ev's document, its body compressed when longer than
// compressOver (0: never).
func newEventDoc(ev webhook.Event, compressOver int) (eventDoc, error) {
	stored, size := store.CompressBody(ev.Body, compressOver)
	e := eventDoc{
		ID: ev.ID, Source: ev.Source, Type: ev.Type, Body: stored, Size: len(ev.Body), Gzip: size.Valid, ContentType: ev.ContentType,
		Key: ev.IdempotencyKey, IKey: ikey(ev.Source, ev.IdempotencyKey), Received: tm(ev.ReceivedAt), Status: string(ev.Status),
		Deliveries: []deliveryDoc{},
	}
	if e.Body == nil {
		e.Body = []byte{}
	}
	if ev.Headers != nil {
		h, err := json.Marshal(ev.Headers)
		if err != nil {
			return e, fmt.Errorf("mongo: encode headers: %w", err)
		}
		e.Headers = string(h)
	}
	return e, nil
}

func newDeliveryDoc(d webhook.Delivery) deliveryDoc {
	return deliveryDoc{
		ID: d.ID, Destination: d.Destination, Status: string(d.Status), Attempts: d.Attempts,
		Next: tm(d.NextAttemptAt), LastError: d.LastError, LastReason: string(d.LastReason), Created: tm(d.CreatedAt), Updated: tm(d.UpdatedAt),
		Log: []attemptDoc{},
	}
}

// errConflict is returned by a change function to give up on a document.
var errSkip = errors.New("skip")

// maxTries bounds how often a compare-and-set write is retried after
// losing a race.
const maxTries = 20

// modify applies change to the event document (doc, or read fresh when
// nil or after a lost race) and writes it back if its version is still
// the one read. change returns errSkip to write nothing. It returns the
// document as written (or as read, when skipped), and whether it wrote.
func (s *Store) modify(ctx context.Context, id string, doc *eventDoc, change func(e *eventDoc) error) (eventDoc, bool, error) {
	defer s.lock(id)()
	if s.ferret {
		// The write below names the document by _id alone, trusting the
		// lock to keep the version as read; a document the caller read
		// before taking the lock may be older than a write made since.
		doc = nil
	}
	for try := 0; ; try++ {
		if doc == nil {
			var e eventDoc
			err := s.events.FindOne(ctx, bson.M{"_id": id}).Decode(&e)
			if errors.Is(err, mongo.ErrNoDocuments) {
				return e, false, fmt.Errorf("event %s: %w", id, webhook.ErrNotFound)
			}
			if err != nil {
				return e, false, err
			}
			doc = &e
		}
		e := *doc
		e.Deliveries = append([]deliveryDoc(nil), doc.Deliveries...)
		if err := change(&e); errors.Is(err, errSkip) {
			return e, false, nil
		} else if err != nil {
			return e, false, err
		}
		e.refresh()
		set := bson.M{"dl": e.Deliveries, "status": e.Status, "v": e.V + 1}
		update := bson.M{"$set": set}
		if e.Due != nil {
			set["due"] = *e.Due
		} else {
			update["$unset"] = bson.M{"due": ""}
		}
		filter := bson.M{"_id": id, "v": e.V}
		if s.ferret {
			filter = bson.M{"_id": id} // the lock held keeps v as read
		}
		res, err := s.events.UpdateOne(ctx, filter, update)
		if err != nil {
			return e, false, err
		}
		if res.MatchedCount == 1 {
			e.V++
			return e, true, nil
		}
		if try >= maxTries {
			return e, false, fmt.Errorf("event %s: too many concurrent changes", id)
		}
		doc = nil
	}
}

// SetBodyCompression makes event bodies longer than over bytes be stored
// gzip-compressed from now on (0: never). Bodies already stored stay as
// they are; both kinds are read alike. Call it before the store is used.
func (s *Store) SetBodyCompression(over int) { s.compressOver = over }

// SingleWriter says why only one hookd process may use this database: on
// FerretDB the in-process lock that keeps a document's version is the only
// guard of read-modify-write (see "FerretDB" in the package comment).
// On MongoDB it is "" and any number of processes may.
func (s *Store) SingleWriter() string {
	if s.ferret {
		return "the server is FerretDB, on which only one hookd process may write a database (docs/storage.md)"
	}
	return ""
}
