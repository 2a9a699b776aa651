package ingest

import (
	"context"

	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/webhook"
)

// fanOut holds what the destination filters and ordering keys of one
// event share: the filter input, built (and the body parsed) at the first
// destination that needs it, and the event's filter time budget. An event
// whose candidate destinations have neither never builds it, so routing by
// source and type alone costs what it did before filters existed.
type fanOut struct {
	h *Handler
	// req is the request's context; ctx, derived from it once needed,
	// carries the filter budget.
	req    context.Context
	ctx    context.Context
	input  map[string]any
	cancel context.CancelFunc
	// failed names the destinations whose filter failed.
	failed []string
}

// filterWants runs d's filter on the event. A filter that fails (a run
// time error, or its time limit) does not deliver: the event is stored
// and answered 202 as usual, the failure is logged and counted
// (Report.FilterErrors), and the operator can replay the event to the
// destination once the filter is fixed. Never delivering on error, rather
// than always, keeps a filter that guards a receiver from what it must
// not see a guard.
//
// ev is passed by value, and only for a destination with a filter, so
// that the fan-out of an event without filters does not move it to the
// heap.
func (f *fanOut) filterWants(d webhook.Destination, ev webhook.Event) bool {
	prog := f.h.opts.Catalog.Filter(d.Name)
	if prog == nil || prog.Source() != d.Filter {
		// The catalog changed between reads, or the stored program no
		// longer compiles: compile this one, once.
		var err error
		if prog, err = route.CompileFilter(d.Filter); err != nil {
			f.fail(d, ev, err)
			return false
		}
	}
	if f.ctx == nil {
		// The request's context is not used: a client that hangs up after
		// sending its body still gets its event stored, with every
		// delivery its filters select.
		f.ctx, f.cancel = context.WithTimeout(context.WithoutCancel(f.req), route.EventFilterBudget)
	}
	ok, err := prog.Match(f.ctx, f.inputOf(ev))
	if err != nil {
		f.fail(d, ev, err)
		return false
	}
	return ok
}

// inputOf is ev's filter input, which ordering key programs read too:
// the body is parsed once per event, whatever reads it.
func (f *fanOut) inputOf(ev webhook.Event) map[string]any {
	if f.input == nil {
		f.input = route.FilterInput(route.Event{Source: ev.Source, Type: ev.Type, Headers: ev.Headers, Body: ev.Body},
			route.ParsePayload(ev.Body))
	}
	return f.input
}

func (f *fanOut) fail(d webhook.Destination, ev webhook.Event, err error) {
	f.h.opts.Logger.Warn("destination filter failed; the event is not delivered to it",
		"event", ev.ID, "source", ev.Source, "type", ev.Type, "destination", d.Name, "err", err)
	f.failed = append(f.failed, d.Name)
}

// done releases the filter budget's timer.
func (f *fanOut) done() {
	if f.cancel != nil {
		f.cancel()
	}
}
