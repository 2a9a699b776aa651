package tracing_test

import (
	"fmt"

	"github.com/hookd/hookd/internal/tracing"
)

// Any process finds an event's trace from its id alone, so a worker that
// retries a delivery a day later joins the trace that ingest began.
func ExampleEventContext() {
	sc := tracing.EventContext("evt_01HZY3J8Q4W0K6V2N9T5R7M1XA")
	again := tracing.EventContext("evt_01HZY3J8Q4W0K6V2N9T5R7M1XA")
	fmt.Println(sc.TraceID() == again.TraceID(), sc.SpanID() == again.SpanID(), sc.IsSampled())
	// Output: true true true
}
