package delivery

import (
	"context"
	"net/http"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Observer watches attempts and the engine's failures for metrics and
// tracing. Its methods are called from the workers and the dispatcher and
// must not block.
type Observer interface {
	// AttemptStarted is called just before an attempt's request is sent.
	// Headers it sets in h go out with the request (trace context); the
	// context it returns is handed back to AttemptFinished.
	AttemptStarted(ctx context.Context, job webhook.Job, h http.Header) context.Context
	// AttemptFinished is called once for every AttemptStarted, with the
	// context it returned, and also for a delivery failed without a
	// request (its destination is no longer configured), with a context
	// of its own.
	AttemptFinished(ctx context.Context, r AttemptReport)
	// Failed counts a store or queue operation that failed; op is one of
	// the Op* constants, so its values are few and fixed.
	Failed(op string)
}

// The operations Observer.Failed names.
const (
	OpClaim         = "claim"          // queue: claim due deliveries
	OpRecordAttempt = "record_attempt" // store: record attempt results
	OpReleaseLease  = "release_lease"  // store: hand a delivery back
	OpNotify        = "notify"         // queue: tell of a retry or hand-back
)

// AttemptReport is what became of one attempt.
type AttemptReport struct {
	Job webhook.Job
	// Params is what was (or was to be) recorded: outcome, status code,
	// duration, error.
	Params store.AttemptRecordParams
	// HandedBack is set when shutdown cut the attempt short and the
	// delivery went back to the queue without counting an attempt.
	HandedBack bool
	// RecordFailed is set when the result could not be stored; the lease
	// will run out and the delivery will be tried again.
	RecordFailed bool
}

// observer returns Options.Observer, or one that does nothing.
func (e *Engine) observer() Observer {
	if e.opts.Observer != nil {
		return e.opts.Observer
	}
	return nopObserver{}
}

type nopObserver struct{}

func (nopObserver) AttemptStarted(ctx context.Context, _ webhook.Job, _ http.Header) context.Context {
	return ctx
}
func (nopObserver) AttemptFinished(context.Context, AttemptReport) {}
func (nopObserver) Failed(string)                                  {}
