// Package embedded is the queue that lives in the store: deliveries are
// claimed straight from the store's due index with a visibility-timeout
// lease, and an in-process channel wakes the claimer when ingest commits.
// It is durable by construction (nothing exists only in memory), and a
// missed wake-up costs at most one poll interval of the delivery engine.
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

// Queue implements queue.Queue over a store.
type Queue struct {
	store Claimer
	now   func() time.Time
	wake  chan struct{}
}

var _ queue.Queue = (*Queue)(nil)

// New returns a queue over s. now may be nil (time.Now).
func New(s Claimer, now func() time.Time) *Queue {
	if now == nil {
		now = time.Now
	}
	return &Queue{store: s, now: now, wake: make(chan struct{}, 1)}
}

// Notify implements queue.Queue. The rows are already in the store; all
// that is left is to wake the claimer, without ever blocking ingest.
func (q *Queue) Notify(ctx context.Context, items []queue.Item) error {
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
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
