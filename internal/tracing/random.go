package tracing

import (
	"crypto/rand"

	"go.opentelemetry.io/otel/trace"
)

// randomTraceID and randomSpanID never return the invalid all-zero id.
func randomTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		_, _ = rand.Read(id[:])
	}
	return id
}

func randomSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		_, _ = rand.Read(id[:])
	}
	return id
}
