// Package tracing follows each webhook through OpenTelemetry: one span for
// its ingest and one per delivery attempt, all in one trace, with the W3C
// trace context (traceparent) sent to the destination on every attempt.
//
// Attempts happen later and often in another process, and hookd stores
// nothing for tracing: the trace id and the ingest span's id are derived
// from the event id (a SHA-256 of it), so that any process can rebuild the
// event's trace context and make each attempt a child of the ingest span.
// The cost is that the trace id is guessable from the event id, which is
// no secret to anyone who can see either.
package tracing

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Options configure a Tracer.
type Options struct {
	// Endpoint is the OTLP/HTTP collector URL, such as
	// http://otel-collector:4318 (the /v1/traces path is added when the
	// URL has no path). Ignored when Exporter is set.
	Endpoint string
	// Exporter, when set, receives the spans instead (tests use
	// tracetest.NewInMemoryExporter); it is called synchronously.
	Exporter sdktrace.SpanExporter
	// Version is reported as service.version.
	Version string
}

// Tracer makes hookd's spans. A nil *Tracer is valid and does nothing, so
// that callers need not check whether tracing is on.
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TraceContext
}

// New returns a Tracer that exports to opts.Endpoint (batched) or to
// opts.Exporter (synchronously). The sampler is the SDK's default unless
// OTEL_TRACES_SAMPLER says otherwise; since the trace id comes from the
// event id, a ratio sampler keeps or drops the same events everywhere.
func New(ctx context.Context, opts Options) (*Tracer, error) {
	var proc sdktrace.SpanProcessor
	switch {
	case opts.Exporter != nil:
		proc = sdktrace.NewSimpleSpanProcessor(opts.Exporter)
	case opts.Endpoint != "":
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(withTracesPath(opts.Endpoint)))
		if err != nil {
			return nil, fmt.Errorf("otlp exporter: %w", err)
		}
		proc = sdktrace.NewBatchSpanProcessor(exp)
	default:
		return nil, fmt.Errorf("tracing: neither an endpoint nor an exporter")
	}
	res := resource.NewSchemaless(semconv.ServiceName("hookd"), semconv.ServiceVersion(opts.Version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(proc), sdktrace.WithResource(res), sdktrace.WithIDGenerator(eventIDs{}))
	return &Tracer{tp: tp, tracer: tp.Tracer("github.com/hookd/hookd")}, nil
}

// withTracesPath adds the OTLP traces path to a bare collector URL, as
// OTEL_EXPORTER_OTLP_ENDPOINT is meant to be read.
func withTracesPath(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Path != "" && u.Path != "/") {
		return endpoint // the exporter reports a bad URL
	}
	u.Path = "/v1/traces"
	return u.String()
}

// Shutdown flushes the spans not yet exported.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// EventContext is the trace context that every span of eventID belongs to:
// its trace id, and its ingest span's id as the parent, sampled.
func EventContext(eventID string) trace.SpanContext {
	tid, sid := eventIDsOf(eventID)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}

func eventIDsOf(eventID string) (trace.TraceID, trace.SpanID) {
	sum := sha256.Sum256([]byte("hookd event " + eventID))
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	return tid, sid
}

// Ingest is what one webhook request came to.
type Ingest struct {
	Source    string
	EventID   string // empty when nothing was stored
	Duplicate bool
	Status    int
	Started   time.Time
	// Header is the request's: a provider's own traceparent becomes a
	// link, not the parent, since the event's trace id is hookd's.
	Header http.Header
}

// Ingested records the ingest span of one request, after the fact, from
// in.Started to now. A new event's span is the root of its trace, with the
// ids EventContext names; a duplicate's is a child of the first event's
// ingest span; a refusal gets a trace of its own.
func (t *Tracer) Ingested(ctx context.Context, in Ingest) {
	if t == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	opts := []trace.SpanStartOption{trace.WithTimestamp(in.Started), trace.WithSpanKind(trace.SpanKindServer)}
	if in.Header != nil {
		if remote := trace.SpanContextFromContext(t.prop.Extract(context.Background(), propagation.HeaderCarrier(in.Header))); remote.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: remote}))
		}
	}
	switch {
	case in.EventID != "" && in.Duplicate:
		// A child of the first event's ingest span.
		ctx = trace.ContextWithRemoteSpanContext(ctx, EventContext(in.EventID))
	case in.EventID != "":
		ctx = context.WithValue(ctx, rootIDsKey{}, in.EventID)
		opts = append(opts, trace.WithNewRoot())
	default:
		opts = append(opts, trace.WithNewRoot())
	}
	_, span := t.tracer.Start(ctx, "hookd.ingest", opts...)
	span.SetAttributes(
		attribute.String("hookd.source", in.Source),
		attribute.String("hookd.event_id", in.EventID),
		attribute.Bool("hookd.duplicate", in.Duplicate),
		attribute.Int("http.response.status_code", in.Status),
	)
	if in.Status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(in.Status))
	}
	span.End()
}

// Attempt names one delivery attempt.
type Attempt struct {
	EventID, DeliveryID, Destination string
	Number                           int
}

// StartAttempt starts an attempt's span as a child of its event's ingest
// span and writes its traceparent into h, for the destination. End it
// with EndAttempt and the context returned.
func (t *Tracer) StartAttempt(ctx context.Context, a Attempt, h http.Header) context.Context {
	if t == nil {
		return ctx
	}
	ctx = trace.ContextWithRemoteSpanContext(ctx, EventContext(a.EventID))
	ctx, _ = t.tracer.Start(ctx, "hookd.attempt", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("hookd.destination", a.Destination),
		attribute.String("hookd.event_id", a.EventID),
		attribute.String("hookd.delivery_id", a.DeliveryID),
		attribute.Int("hookd.attempt", a.Number),
	))
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
	return ctx
}

// EndAttempt ends the span StartAttempt began. statusCode is 0 when no
// response came; errText is the attempt's error, empty on success.
func (t *Tracer) EndAttempt(ctx context.Context, statusCode int, outcome, errText string) {
	if t == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if statusCode != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", statusCode))
	}
	span.SetAttributes(attribute.String("hookd.outcome", outcome))
	if errText != "" {
		span.SetStatus(codes.Error, errText)
	}
	span.End()
}

// rootIDsKey carries the event id whose ids a new root span takes.
type rootIDsKey struct{}

// eventIDs gives a root span the ids EventContext names when the context
// carries an event id, and random ids otherwise.
type eventIDs struct{}

func (eventIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if id, ok := ctx.Value(rootIDsKey{}).(string); ok {
		return eventIDsOf(id)
	}
	return randomTraceID(), randomSpanID()
}

func (eventIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return randomSpanID() }
