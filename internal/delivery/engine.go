// Package delivery owns getting events to destinations: a dispatcher that
// claims due deliveries from the queue, a bounded set of workers that make
// the HTTP attempts, the retry policy that decides what follows a failure,
// and a recorder that stores results in batches.
//
// Head-of-line isolation: each destination has a cap on attempts in flight
// (MaxInFlight). A destination at its cap is excluded from claims, so a
// receiver that hangs holds at most its own cap of workers and deliveries to
// every other destination go on. The engine counts its own attempts; each
// quota also carries the cap itself (DestinationQuota.Max), which the Redis
// queue holds across all processes.
//
// Recovery: the dispatcher claims whenever the queue wakes it, whenever a
// worker frees a slot, when the next scheduled retry comes due, and at least
// every PollInterval. Leases are visibility timeouts, so a delivery whose
// worker died comes due again by itself when its lease runs out; a lost
// wake-up costs at most one PollInterval.
package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/internal/batch"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/signing"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// Recorder is the part of the store the engine writes to.
type Recorder interface {
	DeliveryRecordAttempts(ctx context.Context, params []store.AttemptRecordParams) ([]webhook.Status, error)
	DeliveryReleaseLeases(ctx context.Context, params []store.LeaseReleaseParams) error
}

// Catalog resolves a delivery's destination by name at attempt time, so a
// corrected URL applies to the next retry, and lists the destinations to
// claim for.
type Catalog interface {
	Destination(name string) (webhook.Destination, bool)
	Destinations() []webhook.Destination
}

// Options configure an Engine.
type Options struct {
	Queue   queue.Queue
	Store   Recorder
	Catalog Catalog
	// Client sends attempts; egress.NewClient builds the right one. It is
	// used when Clients is nil.
	Client *http.Client
	// Clients, when set, picks each destination's client: its own TLS
	// settings and redirect policy. egress.Clients is one.
	Clients ClientPicker
	Retry   RetryPolicy
	// Workers bounds attempts in flight across all destinations. Default 64.
	Workers int
	// Lease is how long a claimed delivery stays invisible to other
	// claimers. Default: the longest destination timeout plus LeaseMargin,
	// computed at each claim so that destinations added later are covered.
	Lease time.Duration
	// PollInterval bounds the wait between claims when nothing wakes the
	// dispatcher. Default 1s.
	PollInterval time.Duration
	// ShutdownTimeout bounds how long Stop waits for attempts in flight
	// before cancelling them and handing their deliveries back. Default 10s.
	ShutdownTimeout time.Duration
	// UserAgent is sent with every attempt. Default "hookd".
	UserAgent string
	Logger    *slog.Logger
	// Now and Random default to time.Now and math/rand/v2.Float64.
	Now    func() time.Time
	Random func() float64
	// AfterRecord, when set, is called after each attempt is stored. Tests
	// use it to wait for attempts without sleeping.
	AfterRecord func(store.AttemptRecordParams)
	// Publisher, when set, hears of every recorded attempt (the live
	// stream). It must not block.
	Publisher Publisher
	// States keeps the destinations' circuit breakers (every store.Store
	// is one); nil turns the breaker off.
	States StateStore
	// Breaker decides when a circuit opens and when a destination is
	// disabled.
	Breaker BreakerPolicy
	// StateRefresh is how often the breaker states are read again, to see
	// what other processes and admins changed. Default 2s.
	StateRefresh time.Duration
	// RateLimiter spaces the attempts of destinations with a RateLimit.
	// Default: a LocalRateLimiter, for this process alone; the Redis one
	// shares each limit among every process.
	RateLimiter queue.RateLimiter
	// Observer, when set, watches every attempt and counts failed store
	// and queue operations (metrics, tracing).
	Observer Observer
}

// ClientPicker returns the client for a destination. An error (bad TLS
// material) fails the attempt with that error.
type ClientPicker interface {
	For(d webhook.Destination) (*http.Client, error)
}

// Reloader is implemented by catalogs that other processes can change; the
// engine reloads before deciding that a delivery's destination is gone.
type Reloader interface {
	Reload(ctx context.Context) error
}

// Publisher takes live status changes.
type Publisher interface {
	Publish(c stream.Change)
}

// orphanInterval is how often the dispatcher looks for deliveries whose
// destination is no longer configured.
const orphanInterval = 5 * time.Minute

// Engine delivers. Start it once; Stop it once or more.
type Engine struct {
	opts     Options
	recorder *batch.Batcher[recordItem, webhook.Status]
	signers  sync.Map // secret, or secret + " " + previous secret → *signing.Signer

	ctx       context.Context // ends when Stop begins: no new claims
	stopClaim context.CancelFunc
	hard      context.Context // ends when the shutdown grace runs out
	cancel    context.CancelFunc

	inflight  atomic.Int64
	mu        sync.Mutex
	perDest   map[string]int
	rotate    int
	slotFreed chan struct{}
	workers   sync.WaitGroup
	loopDone  chan struct{}
	startOnce sync.Once
	stopOnce  sync.Once

	// circuits is nil when Options.States is.
	circuits *circuits
	// rateBusy marks the rate-limited destinations whose last claim used
	// every start it was granted and wanted more: the dispatcher wakes for
	// their next start. Only the dispatcher goroutine touches it.
	rateBusy map[string]bool
	// adaptive is each destination's AIMD concurrency limit (adaptive.go).
	adaptive *adaptive
}

// New returns an Engine with defaults applied.
func New(opts Options) *Engine {
	if opts.Workers <= 0 {
		opts.Workers = 64
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "hookd"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Random == nil {
		opts.Random = rand.Float64
	}
	e := &Engine{
		opts:      opts,
		perDest:   map[string]int{},
		slotFreed: make(chan struct{}, 1),
		loopDone:  make(chan struct{}),
	}
	e.recorder = batch.New(256, e.record)
	if opts.StateRefresh <= 0 {
		e.opts.StateRefresh = 2 * time.Second
	}
	if opts.RateLimiter == nil {
		e.opts.RateLimiter = NewLocalRateLimiter(opts.Now)
	}
	e.rateBusy = map[string]bool{}
	e.adaptive = newAdaptive(opts.Logger)
	if opts.States != nil {
		var publish func(stream.Change)
		if opts.Publisher != nil {
			publish = opts.Publisher.Publish
		}
		e.circuits = newCircuits(opts.Breaker, opts.States, opts.Logger, publish)
	}
	return e
}

// Disabled reports whether destination is disabled by its circuit breaker
// (as this process last read it): its deliveries wait for an admin.
func (e *Engine) Disabled(destination string) bool {
	return e.circuits != nil && e.circuits.disabled(destination)
}

// recordItem is one attempt's result, with the destination the queue
// needs to name the delivery.
type recordItem struct {
	params      store.AttemptRecordParams
	destination string
	// ordered tells the queue that finishing this delivery may let the
	// next one of its ordering key go.
	ordered bool
}

// record stores a batch of results, then tells the queue about them in
// one call each: the retries now scheduled, and (to a queue that keeps
// something per leased delivery) the deliveries finished.
func (e *Engine) record(ctx context.Context, items []recordItem) ([]webhook.Status, error) {
	params := make([]store.AttemptRecordParams, len(items))
	for i, it := range items {
		params[i] = it.params
	}
	statuses, err := e.opts.Store.DeliveryRecordAttempts(ctx, params)
	if err != nil {
		return nil, err
	}
	// Tell the queue, once per batch, which deliveries now wait for a
	// retry (a queue kept outside the store learns when each is due; the
	// embedded one simply wakes) and which are finished.
	var retries, done []queue.Item
	for _, it := range items {
		item := queue.Item{DeliveryID: it.params.Attempt.DeliveryID, Destination: it.destination, Ordered: it.ordered}
		switch it.params.Status {
		case webhook.StatusFailed:
			item.DueAt = it.params.NextAttemptAt
			retries = append(retries, item)
		case webhook.StatusSuccess, webhook.StatusPermanentFailure:
			done = append(done, item)
		}
	}
	if len(retries) > 0 {
		if err := e.opts.Queue.Notify(ctx, retries); err != nil {
			e.opts.Logger.Warn("queue notify failed; the recovery sweep will find the retries", "deliveries", len(retries), "err", err)
			e.observer().Failed(OpNotify)
		}
	}
	if f, ok := e.opts.Queue.(queue.Finisher); ok && len(done) > 0 {
		if err := f.Finished(ctx, done); err != nil {
			e.opts.Logger.Warn("queue could not drop finished deliveries; each costs one refused lease later", "err", err)
		}
	}
	return statuses, nil
}

// Start begins claiming and delivering.
func (e *Engine) Start(ctx context.Context) error {
	e.startOnce.Do(func() {
		base := context.WithoutCancel(ctx)
		e.ctx, e.stopClaim = context.WithCancel(base)
		e.hard, e.cancel = context.WithCancel(base)
		_ = e.recorder.Start(base)
		go e.dispatch()
	})
	return nil
}

// Stop stops claiming, waits up to ShutdownTimeout for attempts in flight,
// cancels the rest and hands their deliveries back to the queue (due at
// once, no attempt counted), then flushes recorded results. Idempotent.
func (e *Engine) Stop() {
	e.stopOnce.Do(func() {
		if e.stopClaim == nil { // never started
			return
		}
		e.stopClaim()
		<-e.loopDone
		done := make(chan struct{})
		go func() { e.workers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(e.opts.ShutdownTimeout):
			e.opts.Logger.Warn("shutdown timeout: cancelling attempts in flight", "in_flight", e.inflight.Load())
			e.cancel()
			<-done
		}
		e.cancel()
		e.recorder.Stop()
	})
}

// InFlight reports attempts in progress in this process.
func (e *Engine) InFlight() int64 { return e.inflight.Load() }

func (e *Engine) dispatch() {
	defer close(e.loopDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	errDelay := 50 * time.Millisecond
	// Deliveries of removed destinations are looked for at start, again
	// while a look finds a full batch, and then every orphanInterval: the
	// look scans the whole due index, so it must stay rare.
	var nextOrphanLook, nextRefresh time.Time
	for {
		if e.ctx.Err() != nil {
			return
		}
		free := e.opts.Workers - int(e.inflight.Load())
		wait := e.opts.PollInterval
		if e.circuits != nil {
			if now := e.opts.Now(); !now.Before(nextRefresh) {
				if err := e.circuits.refresh(e.ctx); err != nil && e.ctx.Err() == nil {
					e.opts.Logger.Warn("circuit breaker: could not read the states", "err", err)
				}
				nextRefresh = now.Add(e.opts.StateRefresh)
			}
			wait = min(wait, max(nextRefresh.Sub(e.opts.Now()), 0))
		}
		if free > 0 {
			limit := min(free, 256)
			plan := e.plan(limit)
			params := queue.ClaimParams{Limit: limit, Lease: e.lease(), Quotas: plan.quotas}
			lookForOrphans := !e.opts.Now().Before(nextOrphanLook)
			if lookForOrphans {
				params.Others = limit
			}
			var res queue.ClaimResult
			var err error
			if plan.claimable || lookForOrphans {
				res, err = e.opts.Queue.Claim(e.ctx, params)
			}
			// Held-back destinations (open circuits, spent rate limits)
			// say when they may be claimed again; wake then, not sooner
			// than a short tick.
			if at := earliest(plan.wake, e.settle(plan, res.Jobs, err)); !at.IsZero() {
				wait = min(wait, max(at.Sub(e.opts.Now()), 10*time.Millisecond))
			}
			if err == nil && lookForOrphans {
				orphans := 0
				for _, job := range res.Jobs {
					if _, ok := e.opts.Catalog.Destination(job.Delivery.Destination); !ok {
						orphans++
					}
				}
				if orphans < limit {
					nextOrphanLook = e.opts.Now().Add(orphanInterval)
				}
			}
			switch {
			case err != nil && e.ctx.Err() != nil:
				return
			case err != nil:
				e.opts.Logger.Error("claim failed", "err", err)
				e.observer().Failed(OpClaim)
				wait = errDelay
				errDelay = min(errDelay*2, e.opts.PollInterval)
			default:
				errDelay = 50 * time.Millisecond
				for _, job := range res.Jobs {
					e.start(job, res.LeaseToken)
				}
				if len(res.Jobs) == limit {
					continue // there may be more due right now
				}
				if !res.NextDueAt.IsZero() && plan.claimable {
					if d := res.NextDueAt.Sub(e.opts.Now()); d < wait {
						wait = d
					}
				}
				if wait <= 0 && len(res.Jobs) == 0 {
					// Due work exists but capacity holds it back: wait for
					// a slot, a wake-up, or a short tick.
					wait = 10 * time.Millisecond
				}
			}
		}
		if wait <= 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-e.ctx.Done():
			return
		case <-e.opts.Queue.Wake():
		case <-e.slotFreed:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// leaseMargin is added to the longest destination timeout to make a lease.
const leaseMargin = 30 * time.Second

func (e *Engine) lease() time.Duration {
	if e.opts.Lease > 0 {
		return e.opts.Lease
	}
	longest := time.Duration(0)
	for _, d := range e.opts.Catalog.Destinations() {
		longest = max(longest, d.Timeout)
	}
	return longest + leaseMargin
}

// claimPlan is what one claim may take, destination by destination.
type claimPlan struct {
	// quotas names every destination, each with its share (maybe 0, which
	// keeps it out of ClaimParams.Others too).
	quotas []store.DestinationQuota
	// claimable is set when some share is positive.
	claimable bool
	// rated are the requests made of the rate limiter, grants its answers.
	rated  []queue.RateRequest
	grants []queue.RateGrant
	// wake is the earliest time an open or half-open circuit may let a
	// claim through; zero when none waits.
	wake time.Time
}

// plan gives each destination with free capacity its share of a claim of
// limit jobs, starting from a different destination each time so that
// none is always served first. An open circuit's share is 0, a half-open
// one's the single probe, and a rate-limited destination's no more than
// the starts its limiter grants now: a delivery held back is never
// claimed, so it waits in the queue without using a retry.
func (e *Engine) plan(limit int) claimPlan {
	var p claimPlan
	dests := e.opts.Catalog.Destinations()
	if len(dests) == 0 {
		return p
	}
	now := e.opts.Now()
	if e.circuits != nil {
		names := make([]string, len(dests))
		for i, d := range dests {
			names[i] = d.Name
		}
		e.circuits.prepare(e.ctx, names, now, e.lease())
	}
	rates := make([]float64, 0, len(dests))
	p.quotas = make([]store.DestinationQuota, 0, len(dests))
	e.mu.Lock()
	first := e.rotate % len(dests)
	e.rotate++
	for i := range dests {
		d := dests[(first+i)%len(dests)]
		capacity, paused := e.adaptive.limits(d.Name, e.capOf(d), now)
		p.wake = earliest(p.wake, paused)
		n := max(min(capacity-e.perDest[d.Name], limit), 0)
		// Max lets a queue shared by processes (Redis) hold max_in_flight
		// across all of them; n counts this process's slots only.
		p.quotas = append(p.quotas, store.DestinationQuota{Destination: d.Name, Limit: n, Max: d.MaxInFlight})
		rates = append(rates, e.adaptive.rate(d.RateLimit, capacity, e.capOf(d)))
	}
	e.mu.Unlock()
	var ratedAt []int
	for i := range p.quotas {
		q := &p.quotas[i]
		if q.Limit > 0 && e.circuits != nil {
			allowed, at := e.circuits.admit(q.Destination, now)
			if allowed >= 0 {
				q.Limit = min(q.Limit, allowed)
			}
			p.wake = earliest(p.wake, at)
		}
		if q.Limit > 0 && rates[i] > 0 {
			p.rated = append(p.rated, queue.RateRequest{Destination: q.Destination, Rate: rates[i], Burst: rateBurst(rates[i]), N: q.Limit})
			ratedAt = append(ratedAt, i)
		}
	}
	if len(p.rated) > 0 {
		grants, err := e.opts.RateLimiter.Take(e.ctx, p.rated)
		if err != nil {
			// Fail closed: a limit is a promise to the receiver.
			if e.ctx.Err() == nil {
				e.opts.Logger.Warn("rate limiter unavailable; rate-limited destinations wait", "err", err)
			}
			grants, p.rated = make([]queue.RateGrant, len(p.rated)), nil
		}
		for j, i := range ratedAt {
			p.quotas[i].Limit = grants[j].N
		}
		if p.rated != nil {
			p.grants = grants
		} else {
			p.wake = earliest(p.wake, now.Add(time.Second))
		}
	}
	for _, q := range p.quotas {
		p.claimable = p.claimable || q.Limit > 0
	}
	return p
}

// settle gives back the rate-limit starts that the claim did not use (it
// found fewer deliveries due than it was granted), and returns when the
// next start comes for a destination that used all it got and wanted
// more; zero when none did.
func (e *Engine) settle(p claimPlan, jobs []webhook.Job, claimErr error) time.Time {
	if len(p.rated) == 0 {
		return time.Time{}
	}
	got := map[string]int{}
	if claimErr == nil {
		for _, j := range jobs {
			got[j.Delivery.Destination]++
		}
	}
	now := e.opts.Now()
	var back []queue.RateRequest
	var wake time.Time
	for j, r := range p.rated {
		g := p.grants[j]
		switch used := got[r.Destination]; {
		case used < g.N:
			back = append(back, queue.RateRequest{Destination: r.Destination, Rate: r.Rate, Burst: r.Burst, N: g.N - used})
			delete(e.rateBusy, r.Destination) // nothing more is due
		case g.N < r.N && g.N > 0:
			e.rateBusy[r.Destination] = true
		}
		if e.rateBusy[r.Destination] && g.N < r.N {
			wake = earliest(wake, now.Add(max(g.Next, time.Millisecond)))
		}
	}
	if len(back) > 0 {
		ctx, cancel := context.WithTimeout(e.hard, 5*time.Second)
		defer cancel()
		if err := e.opts.RateLimiter.Give(ctx, back); err != nil && e.hard.Err() == nil {
			e.opts.Logger.Warn("rate limiter: could not give back unused starts; the limit holds, some capacity is lost", "err", err)
		}
	}
	return wake
}

// earliest returns the earlier of two times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// capOf is how many attempts to d may run at once.
func (e *Engine) capOf(d webhook.Destination) int {
	if d.MaxInFlight > 0 {
		return d.MaxInFlight
	}
	return e.opts.Workers
}

func (e *Engine) start(job webhook.Job, token string) {
	if e.circuits != nil {
		e.circuits.started(job.Delivery.Destination)
	}
	e.inflight.Add(1)
	e.mu.Lock()
	e.perDest[job.Delivery.Destination]++
	e.mu.Unlock()
	e.workers.Add(1)
	go func() {
		defer e.workers.Done()
		e.attempt(job, token)
		e.mu.Lock()
		if e.perDest[job.Delivery.Destination]--; e.perDest[job.Delivery.Destination] <= 0 {
			delete(e.perDest, job.Delivery.Destination)
		}
		e.mu.Unlock()
		e.inflight.Add(-1)
		select {
		case e.slotFreed <- struct{}{}:
		default:
		}
	}()
}

// attempt makes one try of a delivery and records its outcome.
func (e *Engine) attempt(job webhook.Job, token string) {
	d := job.Delivery
	log := e.opts.Logger.With("delivery", d.ID, "event", d.EventID, "destination", d.Destination)
	number := d.Attempts + 1
	started := e.opts.Now()
	attempt := webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: d.ID, Number: number, StartedAt: started.UTC()}

	var retryAfter time.Duration
	obsCtx := context.Background() // carries the attempt's trace once sent
	dest, ok := e.opts.Catalog.Destination(d.Destination)
	if r, reloads := e.opts.Catalog.(Reloader); !ok && reloads {
		// Another process may have created it since this one last looked:
		// look again before calling it removed.
		ctx, cancel := context.WithTimeout(e.hard, 10*time.Second)
		err := r.Reload(ctx)
		cancel()
		if err != nil {
			log.Warn("catalog reload failed; the delivery will be tried again", "err", err)
			e.release(d.ID, d.Destination, token, e.opts.Now().Add(e.opts.PollInterval))
			return
		}
		dest, ok = e.opts.Catalog.Destination(d.Destination)
	}
	if !ok {
		attempt.Error = fmt.Sprintf("destination %q is no longer configured", d.Destination)
		attempt.Reason = webhook.ReasonDestinationRemoved
	} else {
		trace := http.Header{}
		obsCtx = e.observer().AttemptStarted(context.Background(), job, trace)
		res := e.send(dest, job, trace)
		if res.err != nil && e.hard.Err() != nil {
			// Cancelled by shutdown, not the receiver's fault: hand it back.
			e.observer().AttemptFinished(obsCtx, AttemptReport{Job: job, HandedBack: true,
				Params: store.AttemptRecordParams{Attempt: attempt, EventID: d.EventID}})
			e.release(d.ID, d.Destination, token, e.opts.Now())
			return
		}
		attempt.StatusCode = res.status
		attempt.ResponseBody = res.excerpt
		attempt.Error = res.errorText()
		attempt.Reason = res.reason()
		retryAfter = res.retryAfter
		e.adaptive.observe(d.Destination, e.capOf(dest), res, started, e.opts.Now())
	}
	finished := e.opts.Now()
	attempt.Duration = finished.Sub(started)

	params := store.AttemptRecordParams{Attempt: attempt, EventID: d.EventID, LeaseToken: token, UpdatedAt: finished.UTC()}
	switch {
	case ok && attempt.Error == "":
		params.Status = webhook.StatusSuccess
	case !ok:
		params.Status = webhook.StatusPermanentFailure
	case attempt.StatusCode == http.StatusGone: // the receiver says: never again (adaptive.go)
		params.Status = webhook.StatusPermanentFailure
	case attempt.Reason == webhook.ReasonTransformError: // deterministic: fix the transform, then replay (transform.go)
		params.Status = webhook.StatusPermanentFailure
	default:
		params.Status, params.NextAttemptAt = e.opts.Retry.For(dest.Retry).NextFor(number, job.Event.ReceivedAt, finished, retryAfter, e.opts.Random())
	}
	log.Debug("attempt", "number", number, "status_code", attempt.StatusCode, "duration", attempt.Duration,
		"outcome", params.Status, "next_attempt_at", params.NextAttemptAt, "error", attempt.Error)
	eventStatus, err := e.recorder.Do(context.Background(), recordItem{params: params, destination: d.Destination, ordered: d.Ordered})
	if err != nil {
		// The lease will run out and the delivery will be tried again:
		// at least once, never lost.
		log.Error("record attempt failed", "err", err)
		e.observer().Failed(OpRecordAttempt)
		e.observer().AttemptFinished(obsCtx, AttemptReport{Job: job, Params: params, RecordFailed: true})
		return
	}
	e.observer().AttemptFinished(obsCtx, AttemptReport{Job: job, Params: params})
	// A transform error says nothing of the receiver, which was not called.
	if ok && e.circuits != nil && attempt.Reason != webhook.ReasonTransformError {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if attempt.StatusCode == http.StatusGone {
			e.circuits.disable(ctx, d.Destination, goneReason, finished)
		} else {
			e.circuits.record(ctx, d.Destination, params.Status == webhook.StatusSuccess, attempt.Error, finished)
		}
		cancel()
	}
	if e.opts.AfterRecord != nil {
		e.opts.AfterRecord(params)
	}
	if e.opts.Publisher != nil {
		kind := stream.KindDeliveryFailed
		switch params.Status {
		case webhook.StatusSuccess:
			kind = stream.KindDeliverySucceeded
		case webhook.StatusPermanentFailure:
			kind = stream.KindDeliveryDead
		}
		e.opts.Publisher.Publish(stream.Change{
			Kind: kind, EventID: d.EventID, DeliveryID: d.ID, Source: job.Event.Source, Destination: d.Destination,
			EventType: job.Event.Type, Status: eventStatus, DeliveryStatus: params.Status, Attempt: number,
			StatusCode: attempt.StatusCode, Error: attempt.Error, At: finished.UTC(),
		})
	}
}

// release hands a leased delivery back, due at dueAt, without counting an
// attempt. If that fails the lease simply runs out.
func (e *Engine) release(deliveryID, destination, token string, dueAt time.Time) {
	if e.circuits != nil {
		e.circuits.handedBack(destination)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.opts.Store.DeliveryReleaseLeases(ctx, []store.LeaseReleaseParams{{DeliveryID: deliveryID, LeaseToken: token, DueAt: dueAt}}); err != nil {
		e.opts.Logger.Warn("release failed; the lease will run out", "delivery", deliveryID, "err", err)
		e.observer().Failed(OpReleaseLease)
		return
	}
	if err := e.opts.Queue.Notify(ctx, []queue.Item{{DeliveryID: deliveryID, Destination: destination, DueAt: dueAt}}); err != nil {
		e.opts.Logger.Warn("queue notify failed; the recovery sweep will find the delivery", "delivery", deliveryID, "err", err)
		e.observer().Failed(OpNotify)
	}
}

type sendResult struct {
	status     int
	excerpt    []byte
	retryAfter time.Duration
	err        error
	// followsRedirects is the destination's FollowRedirects: a 3xx that
	// still came back was one the client does not follow.
	followsRedirects bool
}

func (r sendResult) errorText() string {
	switch {
	case r.err != nil:
		return r.err.Error()
	case r.status >= 300 && r.status < 400 && r.followsRedirects:
		return fmt.Sprintf("HTTP %d: redirect not followed (only 301, 302, 307 and 308 with a Location are)", r.status)
	case r.status >= 300 && r.status < 400:
		return fmt.Sprintf("HTTP %d: redirects are not followed (follow_redirects is off)", r.status)
	case r.status < 200 || r.status >= 300:
		return fmt.Sprintf("HTTP %d", r.status)
	}
	return ""
}

// maxDrain is how much of a response is read (and discarded) past the
// excerpt so that the connection can be reused.
const maxDrain = 64 << 10

// send makes the request; extra holds headers an Observer asked for
// (trace context), set before the destination's own headers.
func (e *Engine) send(dest webhook.Destination, job webhook.Job, extra http.Header) sendResult {
	ctx, cancel := context.WithTimeout(e.hard, dest.Timeout)
	defer cancel()
	out, ct, err := e.outbound(ctx, dest, job) // the destination's transform, if any (transform.go)
	if err != nil {
		return sendResult{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, out.Method, out.URL, bytes.NewReader(out.Body))
	if err != nil {
		return sendResult{err: withReason(webhook.ReasonConfig, fmt.Errorf("bad destination URL: %w", err))}
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	for k, v := range out.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", e.opts.UserAgent)
	now := e.opts.Now()
	req.Header.Set(signing.HeaderID, job.Delivery.ID)
	req.Header.Set(signing.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	signer, err := e.signer(dest, now)
	if err != nil {
		return sendResult{err: withReason(webhook.ReasonConfig, fmt.Errorf("destination secret: %w", err))}
	}
	req.Header.Set(signing.HeaderSignature, signer.Sign(job.Delivery.ID, now, out.Body))

	client := e.opts.Client
	if e.opts.Clients != nil {
		if client, err = e.opts.Clients.For(dest); err != nil {
			return sendResult{err: withReason(webhook.ReasonConfig, fmt.Errorf("destination TLS settings: %w", err))}
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return sendResult{err: transportFailure(err, dest.Timeout)}
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, webhook.MaxResponseExcerpt))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	return sendResult{
		status:           resp.StatusCode,
		excerpt:          excerpt,
		retryAfter:       ParseRetryAfter(resp.Header.Get("Retry-After"), now),
		followsRedirects: dest.FollowRedirects,
	}
}

// signer signs with dest's secret and, while a rotation's grace lasts
// (now before PreviousSecretUntil), with its previous secret too, so
// receivers that know either one accept the delivery.
func (e *Engine) signer(dest webhook.Destination, now time.Time) (*signing.Signer, error) {
	secrets := []string{dest.Secret}
	if dest.PreviousSecret != "" && now.Before(dest.PreviousSecretUntil) {
		secrets = append(secrets, dest.PreviousSecret)
	}
	key := strings.Join(secrets, " ") // a valid secret holds no space
	if s, ok := e.signers.Load(key); ok {
		return s.(*signing.Signer), nil
	}
	s, err := signing.NewSigner(secrets[0], secrets[1:]...)
	if err != nil {
		return nil, err
	}
	e.signers.Store(key, s)
	return s, nil
}

// transportFailure is the attempt error of a request that got no answer:
// a short, stable explanation an operator can act on, carrying its failure
// reason. transportReason decides what kind of failure it is, once; the
// text follows from that.
func transportFailure(err error, timeout time.Duration) error {
	reason := transportReason(err)
	return withReason(reason, describe(err, reason, timeout))
}

// describe is the explanation of err, of the kind reason.
func describe(err error, reason webhook.FailureReason, timeout time.Duration) error {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case reason == webhook.ReasonTimeout:
		return timeoutError{timeout}
	case reason == webhook.ReasonDNS && errors.As(err, &dnsErr):
		return fmt.Errorf("dns: %s", dnsErr.Error())
	case reason == webhook.ReasonConnectRefused:
		return errors.New("connection refused")
	case reason == webhook.ReasonConnectionReset:
		return errors.New("connection reset by receiver")
	case reason != webhook.ReasonSSRFRefused && errors.As(err, &opErr):
		return fmt.Errorf("network: %s", opErr.Error())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
