package stream

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultBuffer is the per-subscriber buffer used when Options.Buffer is 0.
const DefaultBuffer = 256

// Options configures a Hub.
type Options struct {
	// Buffer is how many changes may wait for one subscriber before it is
	// dropped. Default DefaultBuffer (256).
	Buffer int
	// Logger receives a line when a subscriber is dropped. Default: discard.
	Logger *slog.Logger
}

// Hub fans changes out to subscribers. Its methods are safe for concurrent
// use. The zero value is not usable; call NewHub.
type Hub struct {
	buffer int
	logger *slog.Logger

	// subs is a copy-on-write snapshot so that Publish reads it without
	// taking mu: publishers never wait for Subscribe, Close or each other.
	subs atomic.Pointer[[]*Subscription]

	mu     sync.Mutex // serialises changes to subs and closed
	closed bool
}

// NewHub returns an open Hub.
func NewHub(opts Options) *Hub {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{buffer: opts.Buffer, logger: opts.Logger}
	h.subs.Store(&[]*Subscription{})
	return h
}

// Publish hands c to every subscription whose filter matches. It never
// blocks on a subscriber: a subscription whose buffer is full is dropped
// (see Subscription.Dropped) and c is not delivered to it. Changes from one
// goroutine arrive in the order published; Publish after Close does
// nothing.
func (h *Hub) Publish(c Change) {
	for _, s := range *h.subs.Load() {
		if !s.filter.Match(c) {
			continue
		}
		if !s.offer(c) {
			h.remove(s)
			h.logger.Warn("stream subscriber dropped: buffer full", "buffer", h.buffer)
		}
	}
}

// Subscribe registers a subscription receiving the changes that match f,
// published from now on. The caller must Close it when done. On a closed
// hub it returns a subscription whose channel is already closed.
func (h *Hub) Subscribe(f Filter) *Subscription {
	s := &Subscription{hub: h, filter: f, ch: make(chan Change, h.buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.closed = true
		close(s.ch)
		return s
	}
	subs := append(slices.Clone(*h.subs.Load()), s)
	h.subs.Store(&subs)
	return s
}

// Len reports the number of open subscriptions, for metrics.
func (h *Hub) Len() int {
	return len(*h.subs.Load())
}

// Close closes every subscription (their Dropped stays false) and makes
// later Publish calls no-ops and later Subscribe calls return closed
// subscriptions. It is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	subs := *h.subs.Load()
	h.subs.Store(&[]*Subscription{})
	h.mu.Unlock()
	for _, s := range subs {
		s.shut()
	}
}

// remove takes s out of the snapshot, if it is still there.
func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.subs.Load()
	i := slices.Index(old, s)
	if i < 0 {
		return
	}
	subs := slices.Delete(slices.Clone(old), i, i+1)
	h.subs.Store(&subs)
}

// Subscription is one subscriber's view of a Hub. Its methods are safe for
// concurrent use.
type Subscription struct {
	hub    *Hub
	filter Filter
	ch     chan Change

	// mu makes "send unless closed" and "close" atomic with respect to each
	// other; it is held only across non-blocking operations.
	mu      sync.Mutex
	closed  bool
	dropped atomic.Bool
}

// C returns the channel of matching changes. It is closed when the
// subscription is closed, dropped, or the hub closes; changes buffered
// before that are still received first, so a consumer sees every change up
// to the gap and then the close.
func (s *Subscription) C() <-chan Change { return s.ch }

// Dropped reports whether the hub dropped this subscription because its
// buffer was full. Once the channel from C is closed, Dropped tells a
// subscriber that fell behind (true) from one that was closed (false).
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// Close unsubscribes and closes the channel. It is idempotent and safe to
// call after the hub closed or dropped the subscription.
func (s *Subscription) Close() {
	s.hub.remove(s)
	s.shut()
}

// offer sends c without blocking. It returns false, having closed the
// subscription as dropped, when the buffer is full; true otherwise
// (including when the subscription was already closed).
func (s *Subscription) offer(c Change) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true
	}
	select {
	case s.ch <- c:
		return true
	default:
		s.dropped.Store(true)
		s.closed = true
		close(s.ch)
		return false
	}
}

// shut closes the channel once, without marking it dropped.
func (s *Subscription) shut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.ch)
}
