// Package embedded is the queue that lives in the store: deliveries are
// claimed straight from the store's due index with a visibility-timeout
// lease, and an in-process channel wakes the claimer when ingest commits.
// It is durable by construction (nothing exists only in memory), and a
// missed wake-up costs at most one poll interval of the delivery engine.
//
// Processes sharing a store (PostgreSQL) wake each other only if the queue
// is given a Broadcaster (the PostgreSQL store's LISTEN/NOTIFY wake-ups),
// whose listener calls NotifyLocal; without one, another process finds the
// work at its next poll.
package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/store"
)

// Claimer is the part of the store this queue needs.
type Claimer interface {
	DeliveryClaimDue(ctx context.Context, params store.DeliveryClaimParams) (store.DeliveryClaimResult, error)
}

// Broadcaster tells the claimers of other processes sharing the store that
// work was committed. Broadcast must not block: Notify runs on ingest's
// path to its 202.
type Broadcaster interface {
	Broadcast()
}

// Queue implements queue.Queue over a store.
type Queue struct {
	store     Claimer
	now       func() time.Time
	wake      chan struct{}
	broadcast Broadcaster
}

var _ queue.Queue = (*Queue)(nil)

// New returns a queue over s. now may be nil (time.Now).
func New(s Claimer, now func() time.Time) *Queue {
	if now == nil {
		now = time.Now
	}
	return &Queue{store: s, now: now, wake: make(chan struct{}, 1)}
}

// SetBroadcaster makes Notify wake the claimers of other processes too.
// Call it before the queue is used.
func (q *Queue) SetBroadcaster(b Broadcaster) { q.broadcast = b }

// Notify implements queue.Queue. The rows are already in the store; all
// that is left is to wake the claimers (this process's, and other
// processes' through the Broadcaster), without ever blocking ingest.
func (q *Queue) Notify(ctx context.Context, items []queue.Item) error {
	q.NotifyLocal()
	if q.broadcast != nil {
		q.broadcast.Broadcast()
	}
	return nil
}

// NotifyLocal wakes this process's claimer only: what a wake-up heard
// from another process calls. It never blocks.
func (q *Queue) NotifyLocal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Wake implements queue.Queue.
func (q *Queue) Wake() <-chan struct{} { return q.wake }

// Claim implements queue.Queue.
func (q *Queue) Claim(ctx context.Context, p queue.ClaimParams) (queue.ClaimResult, error) {
	now := q.now()
	token := newToken()
	res, err := q.store.DeliveryClaimDue(ctx, store.DeliveryClaimParams{
		Now:        now,
		LeaseUntil: now.Add(p.Lease),
		LeaseToken: token,
		Limit:      p.Limit,
		Quotas:     p.Quotas,
		Others:     p.Others,
	})
	if err != nil {
		return queue.ClaimResult{}, fmt.Errorf("embedded queue: %w", err)
	}
	return queue.ClaimResult{Jobs: res.Jobs, LeaseToken: token, NextDueAt: res.NextDueAt}, nil
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
