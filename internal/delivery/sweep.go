package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// WaitingLister pages through the deliveries waiting in the store.
type WaitingLister interface {
	DeliveryListWaiting(ctx context.Context, params store.DeliveryListWaitingParams) ([]webhook.Delivery, error)
}

// Rebuilder is a queue kept outside the store (Redis) that can be told
// again about waiting deliveries; telling it twice must be harmless.
type Rebuilder interface {
	Rebuild(ctx context.Context, items []queue.Item) error
}

// Sweeper is the recovery sweep for a queue kept outside the store. The
// store commits first and the queue hears of it after, so a crash between
// the two, or a queue that lost its data (Redis restarted without
// persistence), leaves deliveries the queue does not know. The sweep tells
// the queue about every waiting delivery at start and every Interval;
// duplicates are harmless because only the store's lease decides who
// delivers.
type Sweeper struct {
	store    WaitingLister
	queue    Rebuilder
	interval time.Duration
	log      *slog.Logger

	startOnce, stopOnce sync.Once
	cancel              context.CancelFunc
	done                chan struct{}
}

// NewSweeper returns a Sweeper; interval defaults to 30s.
func NewSweeper(st WaitingLister, q Rebuilder, interval time.Duration, logger *slog.Logger) *Sweeper {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{store: st, queue: q, interval: interval, log: logger, done: make(chan struct{})}
}

// SweepOnce tells the queue about every waiting delivery and returns how
// many there were.
func (s *Sweeper) SweepOnce(ctx context.Context) (int, error) {
	const page = 1000
	n, after := 0, ""
	for {
		waiting, err := s.store.DeliveryListWaiting(ctx, store.DeliveryListWaitingParams{After: after, Limit: page})
		if err != nil {
			return n, err
		}
		if len(waiting) == 0 {
			return n, nil
		}
		items := make([]queue.Item, len(waiting))
		for i, d := range waiting {
			items[i] = queue.Item{DeliveryID: d.ID, Destination: d.Destination, DueAt: d.NextAttemptAt}
		}
		if err := s.queue.Rebuild(ctx, items); err != nil {
			return n, err
		}
		n += len(waiting)
		after = waiting[len(waiting)-1].ID
	}
}

// Start sweeps once at once and then every interval, until Stop.
func (s *Sweeper) Start(ctx context.Context) error {
	s.startOnce.Do(func() {
		ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
		go func() {
			defer close(s.done)
			t := time.NewTicker(s.interval)
			defer t.Stop()
			for {
				if n, err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("recovery sweep failed", "err", err)
				} else if n > 0 {
					s.log.Debug("recovery sweep", "waiting", n)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	})
	return nil
}

// Stop ends the sweep and waits for it. Idempotent; safe without Start.
func (s *Sweeper) Stop() {
	s.startOnce.Do(func() { close(s.done) }) // never started: nothing runs, and nothing will
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
	})
	<-s.done
}
