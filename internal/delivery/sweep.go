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

// LossDetector is a Rebuilder that can tell when it lost its data, so that
// the sweep runs at once instead of at its next interval.
type LossDetector interface {
	// Lost reports a loss since the last call (in any process) and clears
	// the report; true at most once per loss across processes.
	Lost(ctx context.Context) (bool, error)
}

// Sweeper is the recovery sweep for a queue kept outside the store. The
// store commits first and the queue hears of it after, so a crash between
// the two, or a queue that lost its data (Redis restarted without
// persistence), leaves deliveries the queue does not know. The sweep tells
// the queue about every unfinished delivery at start and every Interval,
// and, when the queue is a LossDetector, within a CheckInterval of losing
// its data; duplicates are harmless because only the store's lease decides
// who delivers.
type Sweeper struct {
	store    WaitingLister
	queue    Rebuilder
	interval time.Duration
	check    time.Duration
	log      *slog.Logger
	skip     func(destination string) bool

	startOnce, stopOnce sync.Once
	cancel              context.CancelFunc
	done                chan struct{}
}

// SweeperOptions tune a Sweeper. The zero value is usable.
type SweeperOptions struct {
	// Interval is the time between two full sweeps. Default 30s.
	Interval time.Duration
	// CheckInterval is the time between two loss checks, when the queue
	// is a LossDetector. Default 1s.
	CheckInterval time.Duration
	Logger        *slog.Logger
	// Skip, when set, leaves out the deliveries of destinations it names:
	// those of a disabled destination wait in the queue already (they are
	// never claimed), and telling the queue about them every Interval
	// would only pile up duplicates until an admin enables it.
	Skip func(destination string) bool
}

// NewSweeper returns a Sweeper.
func NewSweeper(st WaitingLister, q Rebuilder, opts SweeperOptions) *Sweeper {
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{store: st, queue: q, interval: opts.Interval, check: opts.CheckInterval, log: opts.Logger, skip: opts.Skip, done: make(chan struct{})}
}

// SweepOnce tells the queue about every unfinished delivery and returns
// how many there were.
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
		items := make([]queue.Item, 0, len(waiting))
		for _, d := range waiting {
			if s.skip == nil || !s.skip(d.Destination) {
				items = append(items, queue.Item{DeliveryID: d.ID, Destination: d.Destination, DueAt: d.NextAttemptAt})
			}
		}
		if err := s.queue.Rebuild(ctx, items); err != nil {
			return n, err
		}
		n += len(waiting)
		after = waiting[len(waiting)-1].ID
	}
}

// Start sweeps once at once and then every interval, and checks for a
// loss every check interval, until Stop.
func (s *Sweeper) Start(ctx context.Context) error {
	s.startOnce.Do(func() {
		ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
		go func() {
			defer close(s.done)
			s.lost(ctx) // sets the marker before the first sweep fills the queue
			s.sweep(ctx, "start")
			full := time.NewTicker(s.interval)
			defer full.Stop()
			check := time.NewTicker(s.check)
			defer check.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-full.C:
					s.sweep(ctx, "interval")
				case <-check.C:
					if s.lost(ctx) {
						s.log.Warn("the queue lost its data; rebuilding it from the store")
						s.sweep(ctx, "queue lost its data")
						full.Reset(s.interval)
					}
				}
			}
		}()
	})
	return nil
}

// lost asks a LossDetector queue whether it lost its data; false for
// other queues and on errors (the full sweep still runs).
func (s *Sweeper) lost(ctx context.Context) bool {
	ld, ok := s.queue.(LossDetector)
	if !ok {
		return false
	}
	lost, err := ld.Lost(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Debug("queue loss check failed", "err", err)
		}
		return false
	}
	return lost
}

func (s *Sweeper) sweep(ctx context.Context, why string) {
	if n, err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("recovery sweep failed", "why", why, "err", err)
	} else if n > 0 {
		s.log.Debug("recovery sweep", "why", why, "unfinished", n)
	}
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
