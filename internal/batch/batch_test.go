package batch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookd/hookd/internal/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder is a Func that remembers every batch it was handed.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
}

func (r *recorder) record(items []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, slices.Clone(items))
}

func (r *recorder) snapshot() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

// start starts b and stops it when the test ends.
func start[T, R any](t *testing.T, b *Batcher[T, R]) {
	t.Helper()
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.Stop)
}

// waitQueued waits until n requests sit in b's queue, behind a batch that is
// being handled, so that the test knows what the next batch will hold.
func waitQueued[T, R any](t *testing.T, b *Batcher[T, R], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(b.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued after 10s, want %d", len(b.reqs), n)
		}
		runtime.Gosched()
	}
}

type outcome struct {
	result int
	err    error
}

// doAsync calls b.Do in a goroutine and returns where its outcome arrives.
func doAsync(ctx context.Context, b *Batcher[int, int], item int) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		r, err := b.Do(ctx, item)
		ch <- outcome{r, err}
	}()
	return ch
}

func TestConcurrentCallersGetTheirOwnResults(t *testing.T) {
	t.Parallel()
	const callers, maxBatch = 200, 8
	rec := &recorder{}
	b := New(maxBatch, func(_ context.Context, items []int) ([]string, error) {
		rec.record(items)
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = fmt.Sprintf("echo-%d", it)
		}
		return out, nil
	})
	start(t, b)

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			got, err := b.Do(context.Background(), i)
			if err != nil {
				errs <- fmt.Errorf("Do(%d): %w", i, err)
				return
			}
			if want := fmt.Sprintf("echo-%d", i); got != want {
				errs <- fmt.Errorf("Do(%d) = %q, want %q", i, got, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	seen := map[int]int{}
	for _, batch := range rec.snapshot() {
		if len(batch) == 0 || len(batch) > maxBatch {
			t.Errorf("batch of %d items, want 1..%d", len(batch), maxBatch)
		}
		for _, it := range batch {
			seen[it]++
		}
	}
	for i := range callers {
		if seen[i] != 1 {
			t.Errorf("item %d handled %d times, want once", i, seen[i])
		}
	}
}

// TestBatchesForm checks that items queued behind a running batch are
// handled together, up to max at a time.
func TestBatchesForm(t *testing.T) {
	t.Parallel()
	const maxBatch = 4
	rec := &recorder{}
	gate := make(chan struct{})
	b := New(maxBatch, func(_ context.Context, items []int) ([]int, error) {
		rec.record(items)
		if items[0] == 0 {
			<-gate
		}
		return items, nil
	})
	start(t, b)

	first := doAsync(context.Background(), b, 0)
	waitFor(t, func() bool { return len(rec.snapshot()) == 1 })
	var outs []<-chan outcome
	for i := 1; i <= maxBatch; i++ {
		outs = append(outs, doAsync(context.Background(), b, i))
	}
	waitQueued(t, b, maxBatch)
	// More than max are waiting now: they must be split.
	outs = append(outs, doAsync(context.Background(), b, maxBatch+1))
	close(gate)

	if o := <-first; o.err != nil || o.result != 0 {
		t.Errorf("Do(0) = (%d, %v), want (0, nil)", o.result, o.err)
	}
	for i, ch := range outs {
		if o := <-ch; o.err != nil || o.result != i+1 {
			t.Errorf("Do(%d) = (%d, %v), want (%d, nil)", i+1, o.result, o.err, i+1)
		}
	}
	batches := rec.snapshot()
	if len(batches) < 3 {
		t.Fatalf("batches = %v, want [0], then %d queued items together, then the rest", batches, maxBatch)
	}
	if len(batches[1]) != maxBatch {
		t.Errorf("second batch = %v, want the %d queued items", batches[1], maxBatch)
	}
	for _, batch := range batches {
		if len(batch) > maxBatch {
			t.Errorf("batch %v exceeds max %d", batch, maxBatch)
		}
	}
}

func TestErrorFailsOnlyItsBatch(t *testing.T) {
	t.Parallel()
	const poison = -1
	errPoison := errors.New("poisoned batch")
	rec := &recorder{}
	gate := make(chan struct{})
	b := New(4, func(_ context.Context, items []int) ([]int, error) {
		rec.record(items)
		if items[0] == 0 {
			<-gate
		}
		if slices.Contains(items, poison) {
			return nil, errPoison
		}
		out := make([]int, len(items))
		for i, it := range items {
			out[i] = it * 10
		}
		return out, nil
	})
	start(t, b)

	// Batch 1: [0], held at the gate. Batch 2: [1, poison, 2].
	first := doAsync(context.Background(), b, 0)
	waitFor(t, func() bool { return len(rec.snapshot()) == 1 })
	second := []<-chan outcome{
		doAsync(context.Background(), b, 1),
		doAsync(context.Background(), b, poison),
		doAsync(context.Background(), b, 2),
	}
	waitQueued(t, b, len(second))
	close(gate)

	if o := <-first; o.err != nil || o.result != 0 {
		t.Errorf("item of the batch before: (%d, %v), want (0, nil)", o.result, o.err)
	}
	for i, ch := range second {
		if o := <-ch; !errors.Is(o.err, errPoison) {
			t.Errorf("item %d of the poisoned batch: (%d, %v), want errPoison", i, o.result, o.err)
		}
	}
	// A batch after the failure works again.
	got, err := b.Do(context.Background(), 3)
	if err != nil || got != 30 {
		t.Errorf("Do(3) after a failed batch = (%d, %v), want (30, nil)", got, err)
	}
	if batches := rec.snapshot(); len(batches) != 3 || len(batches[1]) != 3 {
		t.Errorf("batches = %v, want [[0] [1 -1 2] [3]] in some inner order", batches)
	}
}

func TestWrongResultCountFailsTheBatch(t *testing.T) {
	t.Parallel()
	b := New(4, func(_ context.Context, items []int) ([]int, error) {
		return items[:len(items)-1], nil // one short
	})
	start(t, b)
	if _, err := b.Do(context.Background(), 1); err == nil {
		t.Fatal("Do with a Func that returned too few results: nil error, want one")
	}
}

func TestStopFlushesQueuedItems(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	gate := make(chan struct{})
	b := New(8, func(_ context.Context, items []int) ([]int, error) {
		rec.record(items)
		if items[0] == 0 {
			<-gate
		}
		return items, nil
	})
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}

	outs := []<-chan outcome{doAsync(context.Background(), b, 0)}
	waitFor(t, func() bool { return len(rec.snapshot()) == 1 })
	for i := 1; i <= 5; i++ {
		outs = append(outs, doAsync(context.Background(), b, i))
	}
	waitQueued(t, b, 5)

	stopped := make(chan struct{})
	go func() {
		b.Stop()
		close(stopped)
	}()
	// Stop closes the queue before it waits; new work is refused from then.
	waitFor(t, func() bool {
		b.mu.RLock()
		defer b.mu.RUnlock()
		return b.closed
	})
	select {
	case <-stopped:
		t.Fatal("Stop returned while a batch was still being handled")
	default:
	}
	if _, err := b.Do(context.Background(), 99); !errors.Is(err, webhook.ErrClosed) {
		t.Errorf("Do during Stop: %v, want webhook.ErrClosed", err)
	}
	close(gate)
	<-stopped

	for i, ch := range outs {
		if o := <-ch; o.err != nil || o.result != i {
			t.Errorf("queued item %d: (%d, %v), want (%d, nil)", i, o.result, o.err, i)
		}
	}
	if _, err := b.Do(context.Background(), 100); !errors.Is(err, webhook.ErrClosed) {
		t.Errorf("Do after Stop: %v, want webhook.ErrClosed", err)
	}
	for _, batch := range rec.snapshot() {
		if slices.Contains(batch, 99) || slices.Contains(batch, 100) {
			t.Errorf("batch %v holds an item refused with ErrClosed", batch)
		}
	}
}

func TestStopIsIdempotent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		started bool
	}{
		{"started", true},
		{"never started", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := New(4, func(_ context.Context, items []int) ([]int, error) { return items, nil })
			if tt.started {
				if err := b.Start(context.Background()); err != nil {
					t.Fatalf("Start: %v", err)
				}
				if _, err := b.Do(context.Background(), 1); err != nil {
					t.Fatalf("Do: %v", err)
				}
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				b.Stop()
				b.Stop()
				var wg sync.WaitGroup
				for range 10 {
					wg.Go(b.Stop)
				}
				wg.Wait()
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Stop did not return")
			}
			if _, err := b.Do(context.Background(), 2); !errors.Is(err, webhook.ErrClosed) {
				t.Errorf("Do after Stop: %v, want webhook.ErrClosed", err)
			}
			// Start after Stop must not revive the loop or panic.
			if err := b.Start(context.Background()); err != nil {
				t.Errorf("Start after Stop: %v", err)
			}
			b.Stop()
		})
	}
}

func TestDoReturnsContextError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		cancel bool // cancel after Do was called
		want   error
	}{
		{
			name: "cancelled while waiting",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithCancel(context.Background())
			},
			cancel: true,
			want:   context.Canceled,
		},
		{
			name: "already cancelled",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			want: context.Canceled,
		},
		{
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 20*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gate := make(chan struct{})
			b := New(4, func(_ context.Context, items []int) ([]int, error) {
				<-gate // no result can arrive before the context ends
				return items, nil
			})
			start(t, b)
			t.Cleanup(func() { close(gate) }) // runs before Stop

			ctx, cancel := tt.ctx()
			defer cancel()
			ch := doAsync(ctx, b, 1)
			if tt.cancel {
				cancel()
			}
			select {
			case o := <-ch:
				if !errors.Is(o.err, tt.want) {
					t.Errorf("Do = (%d, %v), want %v", o.result, o.err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Do did not return after its context ended")
			}
		})
	}
}

// TestStartContextReachesFunc checks that fn runs with the Start context,
// not a caller's, so one caller giving up cannot fail the others' batch.
func TestStartContextReachesFunc(t *testing.T) {
	t.Parallel()
	type key struct{}
	b := New(4, func(ctx context.Context, items []int) ([]int, error) {
		if ctx.Value(key{}) != "start" {
			return nil, errors.New("fn did not get the Start context")
		}
		return items, nil
	})
	if err := b.Start(context.WithValue(context.Background(), key{}, "start")); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.Stop)
	if _, err := b.Do(context.WithValue(context.Background(), key{}, "caller"), 1); err != nil {
		t.Errorf("Do: %v", err)
	}
}

func TestNewClampsMax(t *testing.T) {
	t.Parallel()
	for _, maxBatch := range []int{-1, 0, 1} {
		b := New(maxBatch, func(_ context.Context, items []int) ([]int, error) {
			if len(items) != 1 {
				return nil, fmt.Errorf("batch of %d with max %d", len(items), maxBatch)
			}
			return items, nil
		})
		start(t, b)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if _, err := b.Do(context.Background(), i); err != nil {
					t.Errorf("New(%d): Do(%d): %v", maxBatch, i, err)
				}
			})
		}
		wg.Wait()
	}
}

// waitFor polls cond; the batcher has no hook to signal the states these
// tests wait for, and polling a cheap condition is faster than any sleep.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached after 10s")
		}
		runtime.Gosched()
	}
}
