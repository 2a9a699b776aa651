// Package batch turns many concurrent single calls into few batched ones:
// group commit. Callers block in Do until the batch holding their item has
// been handled, so a caller that gets a nil error knows its item is done
// (for the store: durable).
//
// Batches form by themselves: while one batch is being handled, new items
// queue up and become the next batch. Under light load a batch holds one
// item and adds no latency; under heavy load batches grow up to Max and one
// fsync serves many requests.
package batch

import (
	"context"
	"fmt"
	"sync"

	"github.com/hookd/hookd/internal/webhook"
)

// Func handles a batch and returns one result per item, in order, or an
// error that fails the whole batch.
type Func[T, R any] func(ctx context.Context, items []T) ([]R, error)

// Batcher runs one Func at a time over the items queued since the last run.
type Batcher[T, R any] struct {
	fn   Func[T, R]
	max  int
	reqs chan request[T, R]

	startOnce sync.Once
	stopOnce  sync.Once
	done      chan struct{}
	stopping  chan struct{}
	mu        sync.RWMutex // held for reading while sending to reqs
	closed    bool
}

type request[T, R any] struct {
	ctx   context.Context
	item  T
	reply chan reply[R]
}

type reply[R any] struct {
	result R
	err    error
}

// New returns a Batcher that hands fn at most max items at a time.
func New[T, R any](max int, fn Func[T, R]) *Batcher[T, R] {
	if max < 1 {
		max = 1
	}
	return &Batcher[T, R]{
		fn:       fn,
		max:      max,
		reqs:     make(chan request[T, R], max),
		done:     make(chan struct{}),
		stopping: make(chan struct{}),
	}
}

// Start launches the loop. The ctx is passed to fn; cancelling it fails
// batches in progress, so callers normally use Stop instead.
func (b *Batcher[T, R]) Start(ctx context.Context) error {
	b.startOnce.Do(func() { go b.loop(ctx) })
	return nil
}

// Stop refuses new items, handles those already queued, and waits for the
// loop to end. It is idempotent.
func (b *Batcher[T, R]) Stop() {
	b.stopOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		close(b.reqs)
		b.mu.Unlock()
	})
	b.startOnce.Do(func() { close(b.done) }) // never started: nothing to wait for
	<-b.done
}

// Do queues item and waits for its result. It returns webhook.ErrClosed
// after Stop, and ctx's error if ctx ends first (the item may still be
// handled).
func (b *Batcher[T, R]) Do(ctx context.Context, item T) (R, error) {
	var zero R
	r := request[T, R]{ctx: ctx, item: item, reply: make(chan reply[R], 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return zero, webhook.ErrClosed
	}
	select {
	case b.reqs <- r:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return zero, ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep.result, rep.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (b *Batcher[T, R]) loop(ctx context.Context) {
	defer close(b.done)
	pending := make([]request[T, R], 0, b.max)
	items := make([]T, 0, b.max)
	for {
		first, ok := <-b.reqs
		if !ok {
			return
		}
		pending = append(pending[:0], first)
	drain:
		for len(pending) < b.max {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break drain
				}
				pending = append(pending, r)
			default:
				break drain
			}
		}
		items = items[:0]
		for _, r := range pending {
			items = append(items, r.item)
		}
		results, err := b.fn(ctx, items)
		if err == nil && len(results) != len(items) {
			err = fmt.Errorf("batch: %d results for %d items", len(results), len(items))
		}
		for i, r := range pending {
			if err != nil {
				r.reply <- reply[R]{err: err}
				continue
			}
			r.reply <- reply[R]{result: results[i]}
		}
	}
}
