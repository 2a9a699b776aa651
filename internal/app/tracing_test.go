package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/tracing"
	"github.com/hookd/hookd/internal/webhook"
)

// TestTracing follows one webhook through a real app whose destination
// fails once: the ingest span and both attempt spans share the trace id
// derived from the event id, each attempt is a child of the ingest span,
// and the traceparent the receiver got on each try names that try's span.
func TestTracing(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	rcv := startReceiver(t, receiver.FailFirst(1, http.StatusServiceUnavailable))
	ta := setupWith(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("ci", rcv.URL(), newSecret(t), "github")}
	}, func(opts *app.Options) { opts.SpanExporter = exp })

	h := jsonHeader()
	h.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") // the provider's own
	id := ta.mustAccept(t, "github", []byte(`{"n":1}`), h).ID
	ta.waitTerminal(t, 15*time.Second, 1, webhook.StatusSuccess)
	want := tracing.EventContext(id)

	var ingest tracetest.SpanStub
	var attempts []tracetest.SpanStub
	deadline := time.Now().Add(5 * time.Second)
	for ingest.Name == "" && time.Now().Before(deadline) { // the ingest span ends just after the answer
		attempts = attempts[:0]
		for _, s := range exp.GetSpans() {
			switch s.Name {
			case "hookd.ingest":
				ingest = s
			case "hookd.attempt":
				attempts = append(attempts, s)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ingest.SpanContext.TraceID() != want.TraceID() || ingest.SpanContext.SpanID() != want.SpanID() {
		t.Fatalf("ingest span: trace %s span %s; want trace %s span %s (derived from %s)", ingest.SpanContext.TraceID(), ingest.SpanContext.SpanID(), want.TraceID(), want.SpanID(), id)
	}
	if len(ingest.Links) != 1 || ingest.Links[0].SpanContext.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("ingest span links %v; want the provider's traceparent", ingest.Links)
	}
	if !hasAttr(ingest.Attributes, attribute.String("hookd.source", "github")) || !hasAttr(ingest.Attributes, attribute.String("hookd.event_id", id)) {
		t.Errorf("ingest span attributes %v; want source and event id", ingest.Attributes)
	}
	arrivals := rcv.Arrivals()
	if len(attempts) != 2 || len(arrivals) != 2 {
		t.Fatalf("%d attempt spans, %d arrivals; want 2 and 2", len(attempts), len(arrivals))
	}
	codes := []int{http.StatusServiceUnavailable, http.StatusOK}
	for i, s := range attempts {
		if s.SpanContext.TraceID() != want.TraceID() || s.Parent.SpanID() != want.SpanID() {
			t.Errorf("attempt %d: trace %s parent %s; want trace %s, child of the ingest span", i+1, s.SpanContext.TraceID(), s.Parent.SpanID(), want.TraceID())
		}
		if !hasAttr(s.Attributes, attribute.String("hookd.destination", "ci")) || !hasAttr(s.Attributes, attribute.Int("http.response.status_code", codes[i])) {
			t.Errorf("attempt %d attributes %v; want destination ci, status %d", i+1, s.Attributes, codes[i])
		}
		got := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(arrivals[i].Header)))
		if got.TraceID() != want.TraceID() || got.SpanID() != s.SpanContext.SpanID() {
			t.Errorf("try %d: traceparent %q; want trace %s, span %s", i+1, arrivals[i].Header.Get("traceparent"), want.TraceID(), s.SpanContext.SpanID())
		}
	}
}

func hasAttr(attrs []attribute.KeyValue, want attribute.KeyValue) bool {
	for _, a := range attrs {
		if a == want {
			return true
		}
	}
	return false
}
