// Package store defines the Store interface, hookd's durable source of
// truth for events, deliveries and attempts. Drivers live in subpackages
// (sqlite, and later others) and are all held to one conformance suite in
// storetest, so that a feature package never knows which one it talks to.
//
// Methods are named noun-then-verb and take one params struct. "No rows"
// becomes webhook.ErrNotFound at the driver's edge.
package store

import (
	"context"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// Store is the durable state of hookd.
type Store interface {
	// EventInsertMany stores events and their deliveries in one transaction
	// and returns once it is durable, one result per param in order. An event
	// whose (source, idempotency key) was already stored — earlier or earlier
	// in the same batch — is not stored again: its result names the first
	// event and has Duplicate set.
	EventInsertMany(ctx context.Context, params []EventInsertParams) ([]EventInsertResult, error)

	// EventGet returns one event with its body, or webhook.ErrNotFound.
	EventGet(ctx context.Context, id string) (webhook.Event, error)

	// DeliveryListByEvent returns an event's deliveries, oldest first.
	DeliveryListByEvent(ctx context.Context, eventID string) ([]webhook.Delivery, error)

	// AttemptListByDelivery returns a delivery's attempts in order.
	AttemptListByDelivery(ctx context.Context, deliveryID string) ([]webhook.Attempt, error)

	// DeliveryClaimDue leases up to params.Limit deliveries that are due,
	// oldest due first, so that no other claimer gets them until the lease
	// runs out or is released. A lease is a visibility timeout: the row's
	// next attempt time moves to LeaseUntil, so a claimer that dies simply
	// lets it come due again.
	//
	// Ordered deliveries (webhook.Delivery.Ordered): one is leased only
	// when no earlier delivery of the same destination and ordering key
	// (by the position the store gave it at insert) is pending or failed,
	// leased or not. A due one that must wait is parked instead: due
	// again at its predecessor's next attempt time or LeaseUntil,
	// whichever is later, and made due at once when its predecessor is
	// recorded as success or permanent_failure (DeliveryRecordAttempts).
	DeliveryClaimDue(ctx context.Context, params DeliveryClaimParams) (DeliveryClaimResult, error)

	// DeliveryLeaseByID leases the named deliveries that are due and not
	// leased, as DeliveryClaimDue would, and returns them as jobs in the
	// order given; the others (done, leased by someone else, not yet due,
	// unknown) are skipped. Queues that order work outside the store (Redis)
	// claim through it, so the store's lease stays the one truth. An
	// ordered delivery that waits for an earlier one of its key is not
	// leased but parked (see DeliveryClaimDue).
	DeliveryLeaseByID(ctx context.Context, params DeliveryLeaseByIDParams) ([]webhook.Job, error)
	// DeliveryLeaseByIDBlocked is DeliveryLeaseByID that also names the
	// ordered deliveries it parked, and what each waits for, so that a
	// queue outside the store can offer them again when their predecessor
	// finishes instead of when their parking ends.
	DeliveryLeaseByIDBlocked(ctx context.Context, params DeliveryLeaseByIDParams) (DeliveryLeaseByIDResult, error)

	// DeliveryListWaiting pages through the deliveries not finished
	// (pending or failed) by id, after params.After. A queue that lives
	// outside the store rebuilds itself from it. Leased deliveries are
	// listed too, due when their lease runs out (a lease moves
	// NextAttemptAt there): if their holder dies, the rebuilt queue must
	// still offer them again.
	DeliveryListWaiting(ctx context.Context, params DeliveryListWaitingParams) ([]webhook.Delivery, error)

	// DeliveryRecordAttempts stores attempts and moves each delivery to its
	// new status, and recomputes the status of their events, in one
	// transaction, returning each param's event status afterwards. A result
	// whose lease token no longer matches (the lease ran out and another
	// claimer took the delivery) still stores its attempt but does not
	// change the delivery.
	DeliveryRecordAttempts(ctx context.Context, params []AttemptRecordParams) ([]webhook.Status, error)

	// DeliveryReleaseLeases hands leased deliveries back without recording
	// an attempt (a shutdown interrupted them), due at once.
	DeliveryReleaseLeases(ctx context.Context, params []LeaseReleaseParams) error

	// QueueStats counts deliveries by queue position.
	QueueStats(ctx context.Context, now time.Time) (QueueStats, error)

	// SettingGet returns a stored setting or webhook.ErrNotFound.
	SettingGet(ctx context.Context, key string) (string, error)
	// SettingPutIfAbsent stores value under key unless a value is there
	// already, and returns the value that is stored afterwards.
	SettingPutIfAbsent(ctx context.Context, key, value string) (string, error)

	// EventList returns events newest first, without bodies, matching
	// params, and how many match in all.
	EventList(ctx context.Context, params EventListParams) (EventListResult, error)
	// EventCountBySource counts events per source and status.
	EventCountBySource(ctx context.Context) ([]SourceCount, error)

	// DeliveryRequeue makes an event's deliveries that are in one of
	// params.Statuses (and not in flight) due now with a fresh retry budget,
	// and returns how many it moved.
	DeliveryRequeue(ctx context.Context, params DeliveryRequeueParams) (int, error)
	// DeliveryRequeueDead does the same for every permanent_failure
	// delivery matching the filter, or only counts them when DryRun is set.
	DeliveryRequeueDead(ctx context.Context, params DeliveryRequeueDeadParams) (int, error)
	// DeliveryRequeueDeadBatch requeues, as DeliveryRequeueDead does, the
	// params.Limit matching dead deliveries with the lowest ids after
	// params.After (all of them when Limit is 0), in one transaction
	// (MongoDB: one atomic write per event), and returns them in id order
	// with their new status. A bulk replay pages through the dead letters
	// with it, so each transaction stays short and each delivery is moved
	// at most once per replay even if it dies again meanwhile. DryRun is
	// ignored.
	DeliveryRequeueDeadBatch(ctx context.Context, params DeliveryRequeueDeadParams) ([]webhook.Delivery, error)
	// DeliveryCountDeadByReason counts the permanent_failure deliveries
	// matching params by their last attempt's failure reason; reasons with
	// none are left out.
	DeliveryCountDeadByReason(ctx context.Context, params DeliveryCountDeadParams) ([]ReasonCount, error)
	// DeliveryInsertMany adds deliveries to stored events (a replay) and
	// recomputes those events' status.
	DeliveryInsertMany(ctx context.Context, deliveries []webhook.Delivery) error

	// EventDeleteFinished deletes up to params.Limit finished events (status
	// success or permanent_failure, no delivery pending or failed) received
	// before params.Before, oldest first, with their deliveries and
	// attempts, in one short transaction, and returns how many it deleted.
	// Work still going is never deleted. Processes sharing a store may call
	// it at once: they skip each other's rows instead of waiting.
	EventDeleteFinished(ctx context.Context, params EventDeleteFinishedParams) (int, error)
	// EventImportMany stores whole event records as given (ids, statuses,
	// times, attempts), skipping every record whose event id — or source
	// and idempotency key — is stored already, and returns how many it
	// stored. Imported deliveries carry no lease: pending ones are due at
	// their NextAttemptAt.
	EventImportMany(ctx context.Context, records []EventRecord) (int, error)
	// EventRecordList returns up to params.Limit whole event records
	// (body, deliveries by id, their attempts in order) matching params'
	// filters, newest first, read from one snapshot: a page of an export.
	// Page on with params.Before; Offset and NoTotal are ignored.
	EventRecordList(ctx context.Context, params EventListParams) ([]EventRecord, error)
	// UsageGet measures the store: its size on disk and its row counts.
	UsageGet(ctx context.Context) (Usage, error)

	// UserCreate stores a new user; webhook.ErrConflict if the name is taken.
	UserCreate(ctx context.Context, u webhook.User) error
	// UserGet returns a user or webhook.ErrNotFound.
	UserGet(ctx context.Context, username string) (webhook.User, error)
	// UserList returns every user by name.
	UserList(ctx context.Context) ([]webhook.User, error)
	// UserUpdate changes a user's password hash and/or role.
	UserUpdate(ctx context.Context, params UserUpdateParams) error
	// UserDelete removes a user or returns webhook.ErrNotFound.
	UserDelete(ctx context.Context, username string) error
	// UserCount counts users.
	UserCount(ctx context.Context) (int, error)

	// APIKeyCreate stores a key (by its hash).
	APIKeyCreate(ctx context.Context, k webhook.APIKey) error
	// APIKeyGetByHash returns the key with this hash or webhook.ErrNotFound.
	APIKeyGetByHash(ctx context.Context, hash string) (webhook.APIKey, error)
	// APIKeyList returns every key, newest first.
	APIKeyList(ctx context.Context) ([]webhook.APIKey, error)
	// APIKeyDelete removes a key or returns webhook.ErrNotFound.
	APIKeyDelete(ctx context.Context, id string) error

	// CatalogList returns the stored documents of one kind by name.
	CatalogList(ctx context.Context, kind CatalogKind) ([]CatalogEntry, error)
	// CatalogPut stores a document; with Create set it fails with
	// webhook.ErrConflict when the name exists, else with
	// webhook.ErrNotFound when it does not.
	CatalogPut(ctx context.Context, params CatalogPutParams) error
	// CatalogDelete removes a document or returns webhook.ErrNotFound.
	CatalogDelete(ctx context.Context, kind CatalogKind, name string) error

	// DestinationStateList returns every stored destination state (circuit
	// breaker), by destination name. A destination without one is closed
	// with no failures.
	DestinationStateList(ctx context.Context) ([]DestinationState, error)
	// DestinationStateGet returns one destination's state, or
	// webhook.ErrNotFound when none is stored (closed, no failures).
	DestinationStateGet(ctx context.Context, destination string) (DestinationState, error)
	// DestinationStatePut stores state if the stored version is still
	// state.Version (0: none stored yet) and returns it with its new
	// version. It fails with webhook.ErrConflict when another writer (in
	// this process or another) changed it first: the caller reads again
	// and decides again. Every process sees the state, so one process's
	// open circuit holds back the others' claims too.
	DestinationStatePut(ctx context.Context, state DestinationState) (DestinationState, error)

	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store; it waits for nothing.
	Close() error
}

// Exclusive is implemented by stores that only one process may open at a
// time (the embedded SQLite store holds a file lock). For them every lease
// found at start belongs to a dead process and can be released at once,
// instead of waiting for it to run out.
type Exclusive interface {
	DeliveryReleaseAllLeases(ctx context.Context, now time.Time) (int, error)
}

// EventInsertParams is one event to store with its deliveries. The caller
// assigns every id.
type EventInsertParams struct {
	Event      webhook.Event
	Deliveries []webhook.Delivery
}

// EventInsertResult tells what became of one EventInsertParams.
type EventInsertResult struct {
	// ID is the stored event's id: the new one, or the first event's when
	// Duplicate is set.
	ID        string
	Status    webhook.Status
	Duplicate bool
}

// DeliveryClaimParams selects and leases due deliveries.
type DeliveryClaimParams struct {
	Now        time.Time
	LeaseUntil time.Time
	// LeaseToken marks this claim; results must present it.
	LeaseToken string
	// Limit caps the whole claim.
	Limit int
	// Quotas names the destinations to claim for, each with how many of its
	// due deliveries this claim may take, oldest due first. Destinations are
	// served in the order given; callers rotate it for fairness. A
	// destination's backlog never slows the claim for another.
	Quotas []DestinationQuota
	// Others, when positive, also claims up to this many due deliveries
	// whose destination is not in Quotas (it was removed), so that they can
	// be brought to a final state.
	Others int
}

// DeliveryLeaseByIDParams names deliveries to lease.
type DeliveryLeaseByIDParams struct {
	IDs        []string
	Now        time.Time
	LeaseUntil time.Time
	LeaseToken string
}

// DeliveryLeaseByIDResult is what DeliveryLeaseByID leased, and which
// ordered deliveries it parked because an earlier one of their key is not
// finished.
type DeliveryLeaseByIDResult struct {
	Jobs    []webhook.Job
	Blocked []BlockedDelivery
}

// BlockedDelivery is an ordered delivery parked behind an earlier one.
type BlockedDelivery struct {
	ID          string
	Destination string
	// After is the delivery it waits for: the latest earlier delivery of
	// its key that is not finished.
	After string
	// Until is when the store makes it due again should nothing make it
	// due sooner (After finishing does).
	Until time.Time
}

// DeliveryListWaitingParams pages DeliveryListWaiting.
type DeliveryListWaitingParams struct {
	After string
	Limit int
}

// DestinationQuota caps one destination's share of a claim.
type DestinationQuota struct {
	Destination string
	// Limit caps this claim's jobs of the destination: the claiming
	// process's free slots, as far as its rate limit and circuit allow.
	Limit int
	// Max is the destination's cap on attempts in flight across all
	// processes (its max_in_flight); 0 means none. Only a queue that
	// counts every process's attempts honours it (the Redis queue); the
	// stores' own claims ignore it, as Limit already keeps one process
	// within the cap, so without Redis the cap holds per process.
	Max int
}

// DeliveryClaimResult holds the leased jobs and when the next one is due.
type DeliveryClaimResult struct {
	Jobs []webhook.Job
	// NextDueAt is the earliest due time among the quota destinations'
	// deliveries left waiting, zero when none waits.
	NextDueAt time.Time
}

// AttemptRecordParams is the outcome of one attempt.
type AttemptRecordParams struct {
	Attempt    webhook.Attempt
	EventID    string
	LeaseToken string
	// Status is the delivery's new status; NextAttemptAt matters when it is
	// failed (a retry is scheduled).
	Status        webhook.Status
	NextAttemptAt time.Time
	UpdatedAt     time.Time
}

// LeaseReleaseParams names one lease to hand back.
type LeaseReleaseParams struct {
	DeliveryID string
	LeaseToken string
	DueAt      time.Time
}

// QueueStats is the shape of GET /debug/status.
type QueueStats struct {
	// Ready counts deliveries due now and not leased.
	Ready int64 `json:"queue_length"`
	// Scheduled counts deliveries waiting for a later try.
	Scheduled int64 `json:"scheduled_retries"`
	// InFlight counts leased deliveries.
	InFlight int64 `json:"in_flight"`
	// Dead counts deliveries in permanent_failure.
	Dead int64 `json:"dead"`
}

// EventListParams filters and pages EventList. Zero fields do not filter.
type EventListParams struct {
	Status      webhook.Status
	Source      string
	Destination string
	Type        string
	// Query matches an event id, idempotency key or type exactly, or any
	// part of the body.
	Query    string
	From, To time.Time
	// Before, when set, returns only events older than this event id
	// (keyset paging: fast at any depth). Offset is applied after it.
	Before string
	Limit  int
	Offset int
	// NoTotal skips counting all matches (Total is then -1).
	NoTotal bool
}

// EventListResult is a page of events.
type EventListResult struct {
	Items []webhook.EventSummary
	Total int64
}

// SourceCount counts one source's events by status.
type SourceCount struct {
	Source string
	Counts map[webhook.Status]int64
}

// DeliveryRequeueParams selects an event's deliveries to try again.
type DeliveryRequeueParams struct {
	EventID  string
	Statuses []webhook.Status
	Now      time.Time
}

// DeliveryRequeueDeadParams filters dead deliveries for a bulk retry.
// Zero fields do not filter.
type DeliveryRequeueDeadParams struct {
	Source      string
	Destination string
	// From and To bound the events' received time, from inclusive, to
	// exclusive.
	From, To time.Time
	// EventIDs, when not empty, keeps only the dead deliveries of these
	// events: a retry of a selection is one call (and one transaction).
	EventIDs []string
	// Reason keeps only the deliveries whose last attempt failed for it.
	Reason webhook.FailureReason
	// DeadBefore keeps only the deliveries that died (were last updated)
	// at or before it: a replay takes the dead letters as they were when
	// it started, not those that die while it runs.
	DeadBefore time.Time
	// After and Limit page DeliveryRequeueDeadBatch by delivery id.
	After string
	Limit int
	Now   time.Time
	// DryRun only counts.
	DryRun bool
}

// DeliveryCountDeadParams filters DeliveryCountDeadByReason. Zero fields
// do not filter.
type DeliveryCountDeadParams struct {
	Source      string
	Destination string
	// From and To bound the events' received time, from inclusive, to
	// exclusive.
	From, To time.Time
}

// ReasonCount is how many dead deliveries failed last for one reason.
// Reason is empty for deliveries that died before reasons were recorded.
type ReasonCount struct {
	Reason webhook.FailureReason
	Count  int64
}

// UserUpdateParams changes a user; nil fields stay as they are.
type UserUpdateParams struct {
	Username     string
	PasswordHash *string
	Role         *string
	Now          time.Time
}

// CatalogKind names a kind of catalog document.
type CatalogKind string

// The kinds of catalog documents.
const (
	CatalogSource      CatalogKind = "source"
	CatalogDestination CatalogKind = "destination"
)

// CatalogEntry is one stored source or destination document.
type CatalogEntry struct {
	Name      string
	Doc       []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CatalogPutParams stores one document.
type CatalogPutParams struct {
	Kind   CatalogKind
	Name   string
	Doc    []byte
	Create bool
	Now    time.Time
}

// Circuit is the circuit-breaker state of a destination.
type Circuit string

// The circuit states. Closed: deliveries are claimed as usual. Open: none
// are claimed until OpenUntil. HalfOpen: one process makes one probe
// attempt (until OpenUntil, then another may). Disabled: none are claimed
// until an admin enables the destination again.
const (
	CircuitClosed   Circuit = "closed"
	CircuitOpen     Circuit = "open"
	CircuitHalfOpen Circuit = "half_open"
	CircuitDisabled Circuit = "disabled"
)

// DestinationState is a destination's circuit breaker, shared by every
// process through the store. Zero times mean "not set".
type DestinationState struct {
	Destination string
	// Circuit is empty or closed for a destination never stored.
	Circuit Circuit
	// ConsecutiveFailures counts failed attempts since the last success.
	ConsecutiveFailures int
	// Trips counts openings since the last success; each one doubles the
	// cool-down.
	Trips int
	// FailingSince is when the first of the consecutive failures happened.
	FailingSince time.Time
	// OpenUntil ends the cool-down of an open circuit, and bounds a
	// half-open circuit's probe (after it another process may probe).
	OpenUntil time.Time
	// LastError is the error of the last failed attempt.
	LastError      string
	DisabledAt     time.Time
	DisabledReason string
	UpdatedAt      time.Time
	// Version counts the writes of this state; DestinationStatePut
	// compares it.
	Version int64
}

// EventDeleteFinishedParams selects finished events to delete.
type EventDeleteFinishedParams struct {
	// Before: only events received before it are deleted.
	Before time.Time
	// Limit caps one call (one transaction).
	Limit int
}

// EventRecord is an event with its deliveries and their attempts: the unit
// of export and import.
type EventRecord struct {
	Event      webhook.Event
	Deliveries []DeliveryRecord
}

// DeliveryRecord is a delivery with its attempts, in order.
type DeliveryRecord struct {
	Delivery webhook.Delivery
	Attempts []webhook.Attempt
}

// Usage is what `hookd stats` shows of a store.
type Usage struct {
	// SizeBytes is the space the store takes: the SQLite file with its
	// write-ahead log, or PostgreSQL's total relation size of hookd's
	// tables (indexes and TOAST included).
	SizeBytes  int64
	Events     map[webhook.Status]int64
	Deliveries map[webhook.Status]int64
	Attempts   int64
	// OldestEvent is when the oldest stored event arrived; zero when none.
	OldestEvent time.Time
}
