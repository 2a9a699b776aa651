package app

import (
	"context"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/ingest"
	"github.com/hookd/hookd/internal/metrics"
	"github.com/hookd/hookd/internal/tracing"
	"github.com/hookd/hookd/internal/webhook"
)

// opEventInsert is ingest's store operation.
const opEventInsert = "event_insert"

// The operations whose failures hookd_store_errors_total and
// hookd_queue_errors_total count.
var (
	storeOps = []string{opEventInsert, delivery.OpRecordAttempt, delivery.OpReleaseLease}
	queueOps = []string{delivery.OpClaim, delivery.OpNotify}
)

// observer tells metrics and tracing what ingest and delivery report; it
// is the one place that knows both sides, so that neither feature imports
// Prometheus or OpenTelemetry. tracer is nil when tracing is off.
type observer struct {
	metrics *metrics.Registry
	tracer  *tracing.Tracer
}

var (
	_ ingest.Observer   = observer{}
	_ delivery.Observer = observer{}
)

func (o observer) Ingested(r *http.Request, rep ingest.Report) {
	o.metrics.Ingested(rep.Source, rep.Status, rep.Duplicate, time.Since(rep.Started))
	if rep.StoreFailed {
		o.metrics.StoreFailed(opEventInsert)
	}
	if rep.NotifyFailed {
		o.metrics.QueueFailed(delivery.OpNotify)
	}
	for _, d := range rep.FilterErrors {
		o.metrics.FilterFailed(d)
	}
	if rep.Source != "" { // no trace for scanners of made-up sources
		o.tracer.Ingested(r.Context(), tracing.Ingest{Source: rep.Source, EventID: rep.EventID, Duplicate: rep.Duplicate,
			Status: rep.Status, Started: rep.Started, Header: r.Header})
	}
}

func (o observer) AttemptStarted(ctx context.Context, job webhook.Job, h http.Header) context.Context {
	d := job.Delivery
	return o.tracer.StartAttempt(ctx, tracing.Attempt{EventID: d.EventID, DeliveryID: d.ID, Destination: d.Destination, Number: d.Attempts + 1}, h)
}

func (o observer) AttemptFinished(ctx context.Context, r delivery.AttemptReport) {
	outcome := metrics.OutcomeRetry
	switch {
	case r.HandedBack:
		outcome = metrics.OutcomeHandedBack
	case r.RecordFailed:
		outcome = metrics.OutcomeRecordFailed
	case r.Params.Status == webhook.StatusSuccess:
		outcome = metrics.OutcomeSuccess
	case r.Params.Status == webhook.StatusPermanentFailure:
		outcome = metrics.OutcomeDead
	}
	a := r.Params.Attempt
	o.metrics.Attempted(r.Job.Delivery.Destination, outcome, a.StatusCode, a.Duration, r.Params.UpdatedAt.Sub(r.Job.Event.ReceivedAt))
	o.tracer.EndAttempt(ctx, a.StatusCode, outcome, a.Error)
}

// Failed sorts the engine's failed operations into store and queue
// errors.
func (o observer) Failed(op string) {
	switch op {
	case delivery.OpClaim, delivery.OpNotify:
		o.metrics.QueueFailed(op)
	default:
		o.metrics.StoreFailed(op)
	}
}

// destinationNames lists the configured destinations, whose circuit
// states GET /metrics reports.
func destinationNames(cat interface{ Destinations() []webhook.Destination }) []string {
	dests := cat.Destinations()
	names := make([]string, len(dests))
	for i, d := range dests {
		names[i] = d.Name
	}
	return names
}
