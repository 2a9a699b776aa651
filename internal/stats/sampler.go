package stats

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// SampleInterval is how often a QueueSampler reads the queue by default:
// half of Resolution, so that every slot gets a sample even when a read
// is late. A read is one counting query (the one GET /debug/status makes),
// so this costs the store about one query every few seconds per process.
const SampleInterval = Resolution / 2

// QueueReader reads the queue's depth; every store.Store is one.
type QueueReader interface {
	QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error)
}

// SamplerOptions configure a QueueSampler.
type SamplerOptions struct {
	// Interval between two reads. Default SampleInterval.
	Interval time.Duration
	// Logger reports reads that fail. Default: discard.
	Logger *slog.Logger
}

// QueueSampler reads the queue's depth from the store at a steady interval
// and records it in a Collector, so that GET /api/stats has the queue's
// history and not only its depth at the moment of the request.
type QueueSampler struct {
	c    *Collector
	r    QueueReader
	opts SamplerOptions

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewQueueSampler returns a sampler for c; nothing runs until Start.
func NewQueueSampler(c *Collector, r QueueReader, opts SamplerOptions) *QueueSampler {
	if opts.Interval <= 0 {
		opts.Interval = SampleInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &QueueSampler{c: c, r: r, opts: opts}
}

// Start takes a first sample at once and then one every interval until
// Stop (or until ctx ends). It returns at once; it fails only when the
// sampler is already running.
func (s *QueueSampler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return errAlreadyStarted
	}
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go s.run(ctx, s.done)
	return nil
}

// Stop ends sampling and waits for a read in progress. Idempotent.
func (s *QueueSampler) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (s *QueueSampler) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	failing := false
	for {
		q, err := s.r.QueueStats(ctx, s.c.now())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			// Once per outage, not every few seconds: the chart's gap
			// shows how long it lasted.
			s.opts.Logger.Warn("queue depth sampling failed; the stats chart has a gap until it works again", "err", err)
			failing = true
		case err == nil:
			if failing {
				s.opts.Logger.Info("queue depth sampling works again")
				failing = false
			}
			s.c.RecordQueue(q)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errAlreadyStarted is returned by a second Start.
var errAlreadyStarted = errors.New("stats: queue sampler already started")
