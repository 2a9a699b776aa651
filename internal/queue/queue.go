// Package queue defines how the delivery engine learns which deliveries to
// try next. The store stays the source of truth for every delivery's status;
// a queue only orders work, leases it to one claimer at a time, and wakes
// claimers when new work arrives. Implementations: embedded (the queue is
// the store's deliveries table, woken in-process) and redis (per-destination
// lists, a retry set and Pub/Sub wake-ups across processes; chosen by
// REDIS_URL).
package queue

import (
	"context"
	"time"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Queue hands due deliveries to the delivery engine.
type Queue interface {
	// Notify tells the queue that deliveries were committed to the store
	// (new events, scheduled retries, released leases), so claimers wake
	// within milliseconds instead of on their next poll.
	Notify(ctx context.Context, items []Item) error

	// Claim leases up to params.Limit due deliveries. An empty result with a
	// nil error means nothing is due; NextDueAt then says when to look again.
	Claim(ctx context.Context, params ClaimParams) (ClaimResult, error)

	// Wake is signalled after Notify; receivers should Claim again.
	Wake() <-chan struct{}
}

// Item names one delivery that became due at DueAt.
type Item struct {
	DeliveryID  string
	Destination string
	DueAt       time.Time
	// Ordered marks a delivery of an ordered destination: finishing it
	// (Finisher) may let the next delivery of its key go.
	Ordered bool
}

// ClaimParams bound one claim.
type ClaimParams struct {
	// Limit caps the jobs of this claim.
	Limit int
	// Lease is how long the claimer may hold a job before it is handed to
	// someone else.
	Lease time.Duration
	// Quotas names the destinations with free capacity and how many jobs
	// each may take. A queue shared by many processes (Redis) also keeps
	// each destination's jobs in flight, across all of them, within its
	// Max; the embedded queue claims through the store, which leaves Max
	// to the engine's per-process count.
	Quotas []store.DestinationQuota
	// Others, when positive, claims jobs of destinations not in Quotas.
	Others int
}

// ClaimResult holds leased jobs and the token that proves the lease when
// their results are recorded.
type ClaimResult struct {
	Jobs       []webhook.Job
	LeaseToken string
	NextDueAt  time.Time
}

// Finisher is a queue that keeps something per leased delivery (the Redis
// queue's lease guard) and can drop it once the delivery is finished
// (success or permanent_failure), instead of offering it to the store once
// more when the lease would have run out.
type Finisher interface {
	Finished(ctx context.Context, items []Item) error
}

// RateLimiter spaces the starts of attempts per destination, so that the
// dispatcher claims no more deliveries than it may start at once: a
// delivery held back by a rate limit stays in the queue, unclaimed and
// with its retry count untouched. The in-process limiter serves one
// process; the Redis one shares each destination's budget among every
// process using the same Redis prefix.
type RateLimiter interface {
	// Take grants up to each request's N starts now, and tells for each
	// request granted fewer when the next start will be available.
	Take(ctx context.Context, reqs []RateRequest) ([]RateGrant, error)
	// Give returns starts that Take granted and the claim did not use
	// (fewer deliveries were due), so that they are not lost. Each request
	// names a destination and how many it gives back, at most what its
	// last Take granted.
	Give(ctx context.Context, reqs []RateRequest) error
}

// RateRequest asks for (or gives back) N starts of one destination whose
// limit is Rate starts per second with bursts of at most Burst.
type RateRequest struct {
	Destination string
	Rate        float64
	Burst       int
	N           int
}

// RateGrant is Take's answer to one RateRequest.
type RateGrant struct {
	// N is how many starts may happen now.
	N int
	// Next, when N is below the request's, is how long until the next
	// start is available.
	Next time.Duration
}
