// Package retention deletes finished events once they are older than a
// configured age, with their deliveries and attempts, so that a store
// that takes webhooks for years does not grow without end.
//
// A pass deletes in small batches (one short transaction each) with a
// pause between them, so that ingest and delivery writes fit in between:
// on SQLite every batch is one piece of the single writer's transaction
// queue, on PostgreSQL the rows of a batch are locked with SKIP LOCKED, so
// every process may run the job and they share the work instead of
// waiting for each other. Only finished events go (success or
// permanent_failure, with no delivery pending or failed): work still
// going is never deleted, however old.
package retention

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// Deleter is the store method the job needs.
type Deleter interface {
	EventDeleteFinished(ctx context.Context, params store.EventDeleteFinishedParams) (int, error)
}

// Options configure a Job. Zero fields take the defaults named.
type Options struct {
	// MaxAge: events received longer ago than this are deleted once
	// finished. Must be positive.
	MaxAge time.Duration
	// Interval is the time between passes. Default 10m.
	Interval time.Duration
	// BatchSize caps the events one transaction deletes. Default 500.
	BatchSize int
	// Pause is the wait between two batches of a pass, so that other
	// writers get the store. Default 50ms.
	Pause time.Duration
	// Now is the clock. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Job runs retention passes in the background.
type Job struct {
	store Deleter
	opts  Options

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a job that deletes from st; it does nothing until Start.
func New(st Deleter, opts Options) *Job {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Minute
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.Pause <= 0 {
		opts.Pause = 50 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Job{store: st, opts: opts}
}

// Start runs a first pass at once, then one every Interval, until Stop or
// ctx ends. It returns at once.
func (j *Job) Start(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done != nil {
		return nil
	}
	ctx, j.cancel = context.WithCancel(ctx)
	j.done = make(chan struct{})
	go j.loop(ctx, j.done)
	return nil
}

// Stop ends the job and waits for a running batch to finish. It may be
// called more than once, and without Start.
func (j *Job) Stop() {
	j.mu.Lock()
	cancel, done := j.cancel, j.done
	j.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (j *Job) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(j.opts.Interval)
	defer t.Stop()
	for {
		if _, err := j.Pass(ctx); err != nil && ctx.Err() == nil {
			j.opts.Logger.Error("retention pass failed", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass deletes every finished event older than MaxAge, batch by batch,
// and returns how many it deleted. An error stops the pass; what was
// deleted stays deleted, and the next pass goes on.
func (j *Job) Pass(ctx context.Context) (int, error) {
	before := j.opts.Now().Add(-j.opts.MaxAge)
	start := time.Now()
	total := 0
	for {
		n, err := j.store.EventDeleteFinished(ctx, store.EventDeleteFinishedParams{Before: before, Limit: j.opts.BatchSize})
		total += n
		if err != nil {
			return total, err
		}
		if n < j.opts.BatchSize {
			break
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(j.opts.Pause):
		}
	}
	if total > 0 {
		j.opts.Logger.Info("retention deleted old events",
			slog.Int("events", total), slog.Time("received_before", before), slog.Duration("took", time.Since(start)))
	}
	return total, nil
}
