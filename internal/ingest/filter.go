package ingest

import (
	"context"

	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/webhook"
)

// fanOut holds what the destination filters of one event share: the
// filter input, built (and the body parsed) at the first destination that
// has a filter, and the event's filter time budget. An event whose
// candidate destinations have no filter never builds it, so routing by
// source and type alone costs what it did before filters existed.
type fanOut struct {
	h *Handler
	// req is the request's context; ctx, derived from it once needed,
	// carries the filter budget.
	req    context.Context
	ctx    context.Context
	ev     *webhook.Event
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
func (f *fanOut) filterWants(d webhook.Destination) bool {
	prog := f.h.opts.Catalog.Filter(d.Name)
	if prog == nil || prog.Source() != d.Filter {
		// The catalog changed between reads, or the stored program no
		// longer compiles: compile this one, once.
		var err error
		if prog, err = route.CompileFilter(d.Filter); err != nil {
			f.fail(d, err)
			return false
		}
	}
	if f.input == nil {
		// The request's context is not used: a client that hangs up after
		// sending its body still gets its event stored, with every
		// delivery its filters select.
		f.ctx, f.cancel = context.WithTimeout(context.WithoutCancel(f.req), route.EventFilterBudget)
		f.input = route.FilterInput(route.Event{Source: f.ev.Source, Type: f.ev.Type, Headers: f.ev.Headers, Body: f.ev.Body},
			route.ParsePayload(f.ev.Body))
	}
	ok, err := prog.Match(f.ctx, f.input)
	if err != nil {
		f.fail(d, err)
		return false
	}
	return ok
}

func (f *fanOut) fail(d webhook.Destination, err error) {
	f.h.opts.Logger.Warn("destination filter failed; the event is not delivered to it",
		"event", f.ev.ID, "source", f.ev.Source, "type", f.ev.Type, "destination", d.Name, "err", err)
	f.failed = append(f.failed, d.Name)
}

// done releases the filter budget's timer.
func (f *fanOut) done() {
	if f.cancel != nil {
		f.cancel()
	}
}
