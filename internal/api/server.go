// Package api is the management API under /api: login, events and their
// deliveries, retry and replay, sources and destinations, the live stream,
// export and statistics. Every route is declared once in a route table that
// also drives authentication, the admin check on routes that change state,
// and the OpenAPI document, so a new route cannot skip any of them.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"time"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// Store is the part of the store the API uses.
type Store interface {
	EventGet(ctx context.Context, id string) (webhook.Event, error)
	EventList(ctx context.Context, params store.EventListParams) (store.EventListResult, error)
	EventCountBySource(ctx context.Context) ([]store.SourceCount, error)
	DeliveryListByEvent(ctx context.Context, eventID string) ([]webhook.Delivery, error)
	AttemptListByDelivery(ctx context.Context, deliveryID string) ([]webhook.Attempt, error)
	DeliveryRequeue(ctx context.Context, params store.DeliveryRequeueParams) (int, error)
	DeliveryRequeueDead(ctx context.Context, params store.DeliveryRequeueDeadParams) (int, error)
	DeliveryRequeueDeadBatch(ctx context.Context, params store.DeliveryRequeueDeadParams) ([]webhook.Delivery, error)
	DeliveryCountDeadByReason(ctx context.Context, params store.DeliveryCountDeadParams) ([]store.ReasonCount, error)
	DeliveryInsertMany(ctx context.Context, deliveries []webhook.Delivery) error
	QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error)
	UserGet(ctx context.Context, username string) (webhook.User, error)
}

// Catalog is the live catalog of sources and destinations.
type Catalog interface {
	Source(name string) (webhook.Source, bool)
	Sources() []catalog.Entry[webhook.Source]
	Destination(name string) (webhook.Destination, bool)
	Destinations() []webhook.Destination
	SourceOrigin(name string) catalog.Origin
	DestinationOrigin(name string) catalog.Origin
	PutSource(ctx context.Context, s webhook.Source, create bool) (webhook.Source, error)
	DeleteSource(ctx context.Context, name string) error
	PutDestination(ctx context.Context, d webhook.Destination, create bool) (webhook.Destination, error)
	DeleteDestination(ctx context.Context, name string) error
}

// Options wire a Server.
type Options struct {
	Store   Store
	Catalog Catalog
	// Queue is notified when retries and replays make deliveries due.
	Queue   queue.Queue
	Hub     *stream.Hub
	Tokens  *auth.Tokens
	Keys    auth.APIKeyLookup
	Limiter *auth.LoginLimiter
	Logger  *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// Heartbeat is the live stream's keep-alive interval. Default 15s.
	Heartbeat time.Duration
	// Stats is this process's in-memory traffic history for GET
	// /api/stats and destination health; nil leaves them empty.
	Stats Stats
	// Adaptive, when set, reports a destination's adaptive delivery state
	// in this process (shown as "adaptive").
	Adaptive func(d webhook.Destination) AdaptiveView
}

// Server serves /api.
type Server struct {
	opts Options
	log  *slog.Logger
	// replays are the dead-letter replay jobs this process runs.
	replays *replays
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	return &Server{opts: opts, log: opts.Logger, replays: newReplays()}
}

// Route is one entry of the route table.
type Route struct {
	Method  string
	Pattern string
	// Public routes need no token (login, the OpenAPI document).
	Public bool
	// Write routes change state and need the admin role.
	Write   bool
	Summary string
	handler httpx.HandlerFunc
}

// Routes returns the route table.
func (s *Server) Routes() []Route {
	var all []Route
	for _, group := range [][]Route{s.authRoutes(), s.webhookRoutes(), s.actionRoutes(), s.deadLetterRoutes(), s.catalogRoutes(), s.routingRoutes(), s.destinationStateRoutes(), s.streamRoutes(), s.reportRoutes(), s.docRoutes()} {
		all = append(all, group...)
	}
	return all
}

// Handler returns the http.Handler for every route under /api.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	authenticate := auth.Authenticate(s.opts.Tokens, s.opts.Keys, s.log)
	for _, r := range s.Routes() {
		var h http.Handler = httpx.Handle(s.log, s.mapAuthErrors(r.handler))
		if r.Write {
			h = auth.RequireWrite(h)
		}
		if !r.Public {
			h = authenticate(h)
		}
		mux.Handle(r.Method+" "+r.Pattern, h)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, s.log, fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, webhook.ErrNotFound))
	})
	return mux
}

// mapAuthErrors turns the auth package's sentinels into their HTTP errors.
func (s *Server) mapAuthErrors(h httpx.HandlerFunc) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		if he := auth.HTTPError(err); he != nil {
			return he
		}
		return err
	}
}

// maxJSONBody bounds request bodies of the API.
const maxJSONBody = 1 << 20

// decodeJSON reads a JSON request body into v, refusing unknown fields,
// trailing data and bodies over maxJSONBody with 400s that say what is
// wrong.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return webhook.ErrBodyTooLarge
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%w: body: a JSON object is required", webhook.ErrInvalid)
		case errors.As(err, &se):
			return fmt.Errorf("%w: body: not valid JSON at byte %d", webhook.ErrInvalid, se.Offset)
		case errors.As(err, &te) && te.Field == "":
			return fmt.Errorf("%w: body: must be a JSON object, not %s", webhook.ErrInvalid, te.Value)
		case errors.As(err, &te):
			return fmt.Errorf("%w: %s: must be %s, not %s", webhook.ErrInvalid, te.Field, jsonKind(te.Type), te.Value)
		}
		return fmt.Errorf("%w: body: %v", webhook.ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: body: unexpected data after the JSON object", webhook.ErrInvalid)
	}
	return nil
}

// jsonKind names the JSON kind a Go type decodes from, for messages that
// must not show Go type names.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "another type"
}

// invalid returns an error wrapping webhook.ErrInvalid that names the field.
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", webhook.ErrInvalid, field, fmt.Sprintf(format, args...))
}
