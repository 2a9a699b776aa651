// Package stream is hookd's in-process publish/subscribe hub for live status
// changes, and the Server-Sent Events writer that carries them to the
// dashboard.
//
// The ingest path and the delivery workers call Hub.Publish after each state
// change. Publish never waits for a subscriber: each subscription has a
// fixed buffer, and a subscriber whose buffer is full is dropped (its
// channel closed, Dropped reporting true) rather than slowing the publisher.
// A dropped client reconnects and reloads; the live stream is a convenience
// on top of the store, which stays the source of truth.
//
// The package imports nothing from hookd but the webhook domain types.
package stream

import (
	"slices"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// Change kinds, the values of Change.Kind and of the SSE "event:" field.
const (
	// KindEventCreated means an event was received and stored.
	KindEventCreated = "event.created"
	// KindAttempt means one HTTP attempt of a delivery finished (any outcome).
	KindAttempt = "attempt"
	// KindDeliverySucceeded means a delivery got a 2xx answer.
	KindDeliverySucceeded = "delivery.succeeded"
	// KindDeliveryFailed means a delivery's try failed and a retry is scheduled.
	KindDeliveryFailed = "delivery.failed"
	// KindDeliveryDead means a delivery exhausted its retries (dead letter).
	KindDeliveryDead = "delivery.dead"
	// KindDestinationCircuit means a destination's circuit breaker changed:
	// Circuit says to what (open: its deliveries wait for a cool-down;
	// half_open: one probe attempt; closed: delivering again, also after
	// an admin enabled it). It concerns no event.
	KindDestinationCircuit = "destination.circuit"
	// KindDestinationDisabled means a destination failed continuously for
	// too long and gets no more attempts until an admin enables it; its
	// deliveries stay pending. Error says why.
	KindDestinationDisabled = "destination.disabled"
)

// Change is one live status change. Delivery fields are empty for
// KindEventCreated. Its JSON form is the "data:" of an SSE message.
type Change struct {
	// Kind is one of the Kind constants.
	Kind       string `json:"kind"`
	EventID    string `json:"event_id"`
	DeliveryID string `json:"delivery_id,omitempty"`
	Source     string `json:"source"`
	// Destination names the delivery's destination, if the change is about
	// a delivery.
	Destination string `json:"destination,omitempty"`
	EventType   string `json:"event_type"`
	// Status is the event's (derived) status after the change; Filter
	// matches on it.
	Status webhook.Status `json:"status"`
	// DeliveryStatus is the delivery's status after the change.
	DeliveryStatus webhook.Status `json:"delivery_status,omitempty"`
	// Attempt is the attempt number (1 for the first try).
	Attempt int `json:"attempt,omitempty"`
	// StatusCode is the receiver's HTTP status, 0 when no answer arrived.
	StatusCode int `json:"status_code,omitempty"`
	// Circuit is the destination's circuit state after a
	// KindDestinationCircuit or KindDestinationDisabled change.
	Circuit string    `json:"circuit,omitempty"`
	Error   string    `json:"error,omitempty"`
	At      time.Time `json:"at"`
}

// Filter selects the changes a subscription receives. An empty list
// matches everything; both lists must match when both are set.
type Filter struct {
	// Statuses matches the event's status after the change (Change.Status),
	// not the delivery's.
	Statuses []webhook.Status
	// Sources matches Change.Source exactly.
	Sources []string
}

// Match reports whether c passes the filter. Destination changes concern
// no event and pass every filter: an operator watching a filtered stream
// still hears that a destination stopped.
func (f Filter) Match(c Change) bool {
	if c.Kind == KindDestinationCircuit || c.Kind == KindDestinationDisabled {
		return true
	}
	if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, c.Status) {
		return false
	}
	if len(f.Sources) > 0 && !slices.Contains(f.Sources, c.Source) {
		return false
	}
	return true
}
