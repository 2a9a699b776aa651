package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookd/hookd/internal/tracing"
)

// TestEventContextIsDeterministic: every process derives the same trace
// from an event id, and different events get different traces.
func TestEventContextIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := tracing.EventContext("evt_1"), tracing.EventContext("evt_1")
	if !a.Equal(b) || !a.IsValid() || !a.IsSampled() {
		t.Fatalf("EventContext(evt_1) = %v then %v; want one valid, sampled context", a, b)
	}
	if c := tracing.EventContext("evt_2"); c.TraceID() == a.TraceID() {
		t.Errorf("evt_1 and evt_2 share trace id %s", a.TraceID())
	}
}

// TestIngestAndAttemptsShareATrace: the ingest span is the trace's root,
// with the ids EventContext names; each attempt is its child and writes
// its own span into traceparent.
func TestIngestAndAttemptsShareATrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.New(t.Context(), tracing.Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })

	const event = "evt_01JABC"
	want := tracing.EventContext(event)
	tr.Ingested(t.Context(), tracing.Ingest{Source: "github", EventID: event, Status: http.StatusAccepted, Started: time.Now().Add(-time.Millisecond)})
	var headers []http.Header
	for n := 1; n <= 2; n++ {
		h := http.Header{}
		ctx := tr.StartAttempt(t.Context(), tracing.Attempt{EventID: event, DeliveryID: "dlv_1", Destination: "ci", Number: n}, h)
		tr.EndAttempt(ctx, http.StatusServiceUnavailable, "retry", "HTTP 503")
		headers = append(headers, h)
	}
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans; want 3 (ingest, 2 attempts)", len(spans))
	}
	ingest := spans[0]
	if ingest.Name != "hookd.ingest" || ingest.SpanContext.TraceID() != want.TraceID() || ingest.SpanContext.SpanID() != want.SpanID() || ingest.Parent.IsValid() {
		t.Errorf("ingest span %s: trace %s span %s parent %v; want a root with trace %s span %s",
			ingest.Name, ingest.SpanContext.TraceID(), ingest.SpanContext.SpanID(), ingest.Parent, want.TraceID(), want.SpanID())
	}
	prop := propagation.TraceContext{}
	for i, s := range spans[1:] {
		got := trace.SpanContextFromContext(prop.Extract(context.Background(), propagation.HeaderCarrier(headers[i])))
		if s.Name != "hookd.attempt" || s.Parent.SpanID() != want.SpanID() || s.SpanContext.TraceID() != want.TraceID() {
			t.Errorf("attempt %d: %s, parent %s, trace %s; want hookd.attempt, child of %s in %s", i+1, s.Name, s.Parent.SpanID(), s.SpanContext.TraceID(), want.SpanID(), want.TraceID())
		}
		if got.TraceID() != want.TraceID() || got.SpanID() != s.SpanContext.SpanID() {
			t.Errorf("attempt %d: traceparent %q; want trace %s, span %s", i+1, headers[i].Get("traceparent"), want.TraceID(), s.SpanContext.SpanID())
		}
	}
}

// TestDuplicateJoinsTheFirstEventsTrace: a duplicate's ingest span is a
// child of the first event's, never a second root with the same ids.
func TestDuplicateJoinsTheFirstEventsTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.New(t.Context(), tracing.Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	want := tracing.EventContext("evt_1")
	tr.Ingested(t.Context(), tracing.Ingest{Source: "s", EventID: "evt_1", Duplicate: true, Status: http.StatusAccepted, Started: time.Now()})
	s := exp.GetSpans()[0]
	if s.Parent.SpanID() != want.SpanID() || s.SpanContext.SpanID() == want.SpanID() {
		t.Errorf("duplicate: span %s, parent %s; want a new span under %s", s.SpanContext.SpanID(), s.Parent.SpanID(), want.SpanID())
	}
}

// TestNilTracerDoesNothing: tracing off costs callers no checks.
func TestNilTracerDoesNothing(t *testing.T) {
	t.Parallel()
	var tr *tracing.Tracer
	h := http.Header{}
	ctx := tr.StartAttempt(t.Context(), tracing.Attempt{EventID: "e"}, h)
	tr.EndAttempt(ctx, 200, "success", "")
	tr.Ingested(t.Context(), tracing.Ingest{EventID: "e"})
	if len(h) != 0 {
		t.Errorf("headers %v; want none with tracing off", h)
	}
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestOTLPExport sends spans to a real OTLP/HTTP endpoint on loopback: a
// bare collector URL gets the /v1/traces path, and Shutdown flushes.
func TestOTLPExport(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var paths []string
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		sizes = append(sizes, len(body))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	tr, err := tracing.New(t.Context(), tracing.Options{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	tr.Ingested(t.Context(), tracing.Ingest{Source: "s", EventID: "evt_otlp", Status: http.StatusAccepted, Started: time.Now()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) == 0 || paths[0] != "POST /v1/traces application/x-protobuf" || sizes[0] == 0 {
		t.Errorf("collector got %v (sizes %v); want a protobuf POST to /v1/traces", paths, sizes)
	}
}
