package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Wakeups carries "work was committed" between hookd processes that share
// this database and schema without Redis, over PostgreSQL LISTEN/NOTIFY.
// The embedded queue wakes its claimer in-process only; without Wakeups a
// worker process learns of an event another process ingested at its next
// poll (1 s). With it, it learns within a round trip.
//
// A wake-up carries no data (the payload is empty): the claimer re-reads
// the store, which stays the only source of truth. So a notification that
// is lost (the listening connection dropped, the server restarted) costs
// latency, never an event: the poll still finds the work.
//
// Two goroutines run between Start and Stop:
//   - the sender coalesces Broadcast calls and keeps at most one NOTIFY in
//     flight, on a pooled connection, at least notifyGap apart. Broadcast
//     never blocks, so ingest's 202 never waits for it, and a burst of
//     commits (a group-committed ingest batch notifies once per request)
//     costs one NOTIFY, or two when the burst straddles one in flight.
//   - the listener holds one connection of its own (outside the pool, so it
//     never starves the store), LISTENs, and calls the wake function for
//     every notification, including this process's own (one spare claim,
//     harmless). When the connection drops it reconnects with backoff and
//     then wakes once, since notifications sent meanwhile were lost.
type Wakeups struct {
	store   *Store
	channel string
	wake    func()
	log     *slog.Logger

	pending chan struct{}
	cancel  context.CancelFunc
	done    sync.WaitGroup
	// connected is signalled each time the listener has (re)connected
	// and LISTENs; tests wait on it.
	connected chan struct{}
}

// WakeupsOptions configure Wakeups.
type WakeupsOptions struct {
	// Wake is called for every wake-up heard from any process. It must not
	// block (the embedded queue's NotifyLocal does not). Required.
	Wake func()
	// Logger receives connection failures. Default: discard.
	Logger *slog.Logger
}

// WakeChannel names the NOTIFY channel of the hookd installation in
// schema. NOTIFY channels are per database, not per schema, so installations
// sharing a database through search_path would otherwise wake each other.
// A channel name is an identifier of at most 63 bytes: a long schema is
// replaced by a digest of it.
func WakeChannel(schema string) string {
	const prefix = "hookd_wake_"
	if len(prefix)+len(schema) <= 63 {
		return prefix + schema
	}
	sum := sha256.Sum256([]byte(schema))
	return prefix + hex.EncodeToString(sum[:16])
}

// NewWakeups prepares cross-process wake-ups for the schema s works in
// (the first of its search_path). Nothing runs until Start.
func (s *Store) NewWakeups(ctx context.Context, opts WakeupsOptions) (*Wakeups, error) {
	if opts.Wake == nil {
		return nil, errors.New("postgres wakeups: Wake is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var schema *string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("postgres wakeups: current schema: %w", err)
	}
	if schema == nil {
		return nil, errors.New("postgres wakeups: no schema of the search_path exists")
	}
	return &Wakeups{store: s, channel: WakeChannel(*schema), wake: opts.Wake, log: opts.Logger,
		pending: make(chan struct{}, 1), connected: make(chan struct{}, 1)}, nil
}

// Channel is the NOTIFY channel used.
func (w *Wakeups) Channel() string { return w.channel }

// Connected is signalled each time the listener has connected (or
// reconnected) and is listening.
func (w *Wakeups) Connected() <-chan struct{} { return w.connected }

// Broadcast asks for one NOTIFY to every process listening on the channel,
// soon. It never blocks: calls made while a NOTIFY is pending are merged.
func (w *Wakeups) Broadcast() {
	select {
	case w.pending <- struct{}{}:
	default:
	}
}

// Start runs the sender and the listener until Stop. It does not wait for
// the listener to connect: until it does, the poll finds the work.
func (w *Wakeups) Start(ctx context.Context) error {
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.done.Add(2)
	go w.send(ctx)
	go w.listen(ctx)
	return nil
}

// Stop ends both goroutines and closes the listening connection. A
// Broadcast pending at Stop is dropped: the other processes' polls find
// its work. Idempotent.
func (w *Wakeups) Stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.done.Wait()
}

// notifyTimeout bounds one NOTIFY; a stuck one only delays wake-ups.
const notifyTimeout = 5 * time.Second

// notifyGap is the least time between two NOTIFYs of one process. Each
// NOTIFY wakes every listening process into a claim, so at high ingest
// rates the gap bounds those claims (to 200/s per sending process) and
// lets each find a larger batch; it costs a wake-up at most 5 ms, and
// none to a commit that follows a quiet moment.
const notifyGap = 5 * time.Millisecond

func (w *Wakeups) send(ctx context.Context) {
	defer w.done.Done()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.pending:
		}
		nctx, cancel := context.WithTimeout(ctx, notifyTimeout)
		_, err := w.store.pool.Exec(nctx, `SELECT pg_notify($1, '')`, w.channel)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			// Logged once per outage: other processes fall back to their poll.
			w.log.Warn("postgres wake-up notify failed; other processes find new work at their poll", "err", err)
			failing = true
		case err == nil && failing:
			w.log.Info("postgres wake-up notify works again")
			failing = false
		}
		t := time.NewTimer(notifyGap)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Reconnect backoff of the listener: doubles from min to max.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

func (w *Wakeups) listen(ctx context.Context) {
	defer w.done.Done()
	backoff := listenBackoffMin
	for {
		err := w.listenOnce(ctx, func() { backoff = listenBackoffMin })
		if ctx.Err() != nil {
			return
		}
		w.log.Warn("postgres wake-up listener lost its connection; reconnecting", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, listenBackoffMax)
	}
}

// listenOnce connects, LISTENs and wakes on every notification until the
// connection fails or ctx ends. listening is called once LISTEN holds.
func (w *Wakeups) listenOnce(ctx context.Context, listening func()) error {
	cfg := w.store.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = cfg.RuntimeParams["application_name"] + " wake-up listener"
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{w.channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	listening()
	select {
	case w.connected <- struct{}{}:
	default:
	}
	// Notifications sent while there was no listener are lost: wake once,
	// so that the claimer looks now rather than at its next poll.
	w.wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		w.wake()
	}
}
