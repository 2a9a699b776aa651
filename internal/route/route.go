// Package route decides, with a destination's jq programs, whether an
// event goes to it (its filter) and what the request carrying it looks
// like (its transform). It is the one place that knows the shape of what a
// filter or transform reads and of what a transform may return, so that
// ingest, delivery and the API's "test filter" and "try transform" calls
// agree on it. The programs themselves are internal/expr's: sandboxed (no
// environment, input or modules) and limited in time and output size.
package route

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/expr"
)

// Time limits of one run. A typical filter or transform takes tens of
// microseconds (BenchmarkFilterEvent, BenchmarkTransform); the limits are
// thousands of times that, because they are wall-clock limits and a busy
// host can stall a goroutine for tens of milliseconds (a 50 ms filter
// limit was seen to expire on a 20 µs filter on a loaded two-core host).
// A filter runs on the ingest path, before the 202, so all the filters of
// one event also share a budget.
const (
	FilterTimeout    = expr.DefaultTimeout
	TransformTimeout = expr.DefaultTimeout
	// EventFilterBudget bounds all the filters of one event together, so
	// that many slow filters cannot hold a webhook request for long: once
	// it is spent, the remaining filters fail with a timeout.
	EventFilterBudget = 500 * time.Millisecond
)

// Filter is a compiled destination filter: a jq program whose first value
// decides, by jq's truth (anything but false and null), whether an event
// is delivered.
type Filter struct {
	prog *expr.Program
}

// CompileFilter compiles a filter. The error is an *expr.SyntaxError,
// whose text names the line and column when the problem has a position.
func CompileFilter(src string) (*Filter, error) {
	p, err := expr.Compile(src)
	if err != nil {
		return nil, err
	}
	return &Filter{prog: p.WithTimeout(FilterTimeout)}, nil
}

// Source is the filter's text as compiled.
func (f *Filter) Source() string { return f.prog.Source() }

// Match runs the filter on in (see FilterInput). A filter that produces
// nothing is false; an error (a run-time error of the program, or
// expr.ErrTimeout) means the filter could not decide.
func (f *Filter) Match(ctx context.Context, in map[string]any) (bool, error) {
	return f.prog.Truthy(ctx, in)
}

// Event is what a filter knows of an event.
type Event struct {
	Source, Type string
	// Headers are the event's stored headers, any case; a filter sees
	// their names in lower case.
	Headers map[string]string
	Body    []byte
}

// ParsePayload is the body as a filter sees it: parsed as JSON (large
// integers kept exact), or nil when it is not one JSON value.
func ParsePayload(body []byte) any {
	if len(body) == 0 {
		return nil
	}
	v, err := expr.Decode(body)
	if err != nil {
		return nil
	}
	return v
}

// FilterInput is the value a filter reads:
//
//	{"source": …, "type": …, "headers": {lower-case name: value}, "payload": <body as JSON, or null>}
//
// payload is ParsePayload's result, passed in so that one event's body is
// parsed once for all its destinations.
func FilterInput(ev Event, payload any) map[string]any {
	return map[string]any{
		"source":  ev.Source,
		"type":    ev.Type,
		"headers": lowerHeaders(ev.Headers),
		"payload": payload,
	}
}

// lowerHeaders copies h with lower-case names, as the values programs
// read (map[string]any). Two names differing only in case keep the
// value of the one that sorts last, which is deterministic and, since
// stored headers come from Go's canonical form, never happens in practice.
func lowerHeaders(h map[string]string) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		lk := strings.ToLower(k)
		if prev, ok := out[lk]; ok && prev.(string) > v {
			continue
		}
		out[lk] = v
	}
	return out
}

// Why a destination does not receive an event, as the "test filter" call
// reports it.
const (
	ReasonReceives      = ""
	ReasonSource        = "not_subscribed_to_source"
	ReasonEventType     = "event_type_not_wanted"
	ReasonFilterFalse   = "filter_false"
	ReasonFilterError   = "filter_error"
	ReasonFilterTimeout = "filter_timeout"
)

// FilterReason classifies a filter's outcome: ReasonReceives when it
// matched, else why not.
func FilterReason(matched bool, err error) string {
	switch {
	case errors.Is(err, expr.ErrTimeout):
		return ReasonFilterTimeout
	case err != nil:
		return ReasonFilterError
	case !matched:
		return ReasonFilterFalse
	}
	return ReasonReceives
}
