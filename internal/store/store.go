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
	DeliveryClaimDue(ctx context.Context, params DeliveryClaimParams) (DeliveryClaimResult, error)

	// DeliveryRecordAttempts stores attempts and moves each delivery to its
	// new status, and recomputes the status of their events, in one
	// transaction. A result whose lease token no longer matches (the lease
	// ran out and another claimer took the delivery) still stores its
	// attempt but does not change the delivery.
	DeliveryRecordAttempts(ctx context.Context, params []AttemptRecordParams) error

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

// DestinationQuota caps one destination's share of a claim.
type DestinationQuota struct {
	Destination string
	Limit       int
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
