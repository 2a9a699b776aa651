// Package app is the composition root: the only package that knows the
// concrete store and queue, and the one that owns the start order (store →
// catalog → delivery engine → ingest → HTTP) and the reverse stop order.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/clientip"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/delivery"
	"github.com/hookd/hookd/internal/egress"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/ingest"
	"github.com/hookd/hookd/internal/limit"
	"github.com/hookd/hookd/internal/metrics"
	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/queue/embedded"
	redisqueue "github.com/hookd/hookd/internal/queue/redis"
	"github.com/hookd/hookd/internal/retention"
	"github.com/hookd/hookd/internal/stats"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/tracing"
	"github.com/hookd/hookd/internal/web"
	"github.com/hookd/hookd/internal/webhook"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Version is hookd's version, sent in User-Agent; set at build time with
// -ldflags "-X github.com/hookd/hookd/internal/app.Version=…".
var Version = "0.1.0-dev"

// Options are the parts of an App that are not configuration.
type Options struct {
	Logger *slog.Logger
	// Stderr receives one-time notices (generated secrets). Default os.Stderr.
	Stderr io.Writer
	// Listener, when set, is served instead of listening on cfg.Host:Port.
	Listener net.Listener
	// AfterRecord is passed to the delivery engine (tests, simulate).
	AfterRecord func(store.AttemptRecordParams)
	// PollInterval overrides the delivery engine's poll interval.
	PollInterval time.Duration
	// StateRefresh overrides how often the delivery engine reads the
	// breaker states again (which also bounds its sleep between claims).
	StateRefresh time.Duration
	// DeferDelivery leaves delivery stopped until StartDelivery, so that a
	// backlog can build up (bench measures how fast it drains).
	DeferDelivery bool
	// TokenTTL is how long login tokens stay valid. Default
	// auth.DefaultTokenTTL (12h); tests shorten it to see tokens expire.
	TokenTTL time.Duration
	// SpanExporter, when set, turns tracing on and receives every span,
	// whatever cfg.OTLPEndpoint says (tests).
	SpanExporter sdktrace.SpanExporter
}

// App is one running hookd.
type App struct {
	cfg     config.Config
	opts    Options
	log     *slog.Logger
	store   store.Store
	engine  *delivery.Engine
	api     *api.Server
	hub     *stream.Hub
	catalog *catalog.Catalog
	// wakeups carries wake-ups between processes over PostgreSQL
	// LISTEN/NOTIFY; it exists on PostgreSQL without REDIS_URL.
	wakeups *postgres.Wakeups
	// redisQueue and sweeper exist when REDIS_URL is set.
	redisQueue  *redisqueue.Queue
	sweeper     *delivery.Sweeper
	redisClient io.Closer
	// stopReload ends the catalog's periodic reload (shared stores only).
	stopReload context.CancelFunc
	reloaded   chan struct{}
	ingest     *ingest.Handler
	server     *http.Server
	listener   net.Listener
	served     chan error
	stopOnce   sync.Once
	stopErr    error

	// guard is the inbound traffic control in front of ingest.
	guard *limit.Guard
	// retention deletes old finished events; nil when HOOKD_RETENTION is 0.
	retention *retention.Job
	// metrics serves GET /metrics; tracer is nil when tracing is off.
	metrics *metrics.Registry
	tracer  *tracing.Tracer
	// sampler records the queue's depth for GET /api/stats.
	sampler *stats.QueueSampler
}

// New opens the store and wires every part; nothing runs until Start.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := sharedStoreCheck(st, cfg.Role); err != nil {
		st.Close()
		return nil, err
	}
	dests, err := withSecrets(ctx, cfg.Destinations, st, opts.Stderr)
	if err != nil {
		st.Close()
		return nil, err
	}
	cat, err := catalog.New(ctx, st, cfg.Sources, dests, nil)
	if err != nil {
		st.Close()
		return nil, err
	}
	eq := embedded.New(st, nil)
	var q queue.Queue = eq
	var wakeups *postgres.Wakeups
	var rq *redisqueue.Queue
	var redisClient io.Closer
	if cfg.RedisURL != "" {
		rq, redisClient, err = openRedisQueue(ctx, cfg.RedisURL, cfg.RedisPrefix, st)
		if err != nil {
			st.Close()
			return nil, err
		}
		q = rq
	} else if pg, ok := st.(*postgres.Store); ok {
		// Processes sharing PostgreSQL without Redis wake each other
		// through LISTEN/NOTIFY (Redis Pub/Sub does it when REDIS_URL is
		// set; SQLite has one process, MongoDB has no such channel).
		if wakeups, err = pg.NewWakeups(ctx, postgres.WakeupsOptions{Wake: eq.NotifyLocal, Logger: opts.Logger}); err != nil {
			st.Close()
			return nil, err
		}
		eq.SetBroadcaster(wakeups)
	}
	secret, err := jwtSecret(ctx, cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := bootstrapAdmin(ctx, cfg, st, opts.Stderr); err != nil {
		st.Close()
		return nil, err
	}
	hub := stream.NewHub(stream.Options{Logger: opts.Logger})
	// The collector hears what the live stream hears (new events, delivery
	// outcomes) and every recorded attempt with its duration, for
	// GET /api/stats.
	collector := stats.New(stats.Options{})
	publisher := fanOut{hub, collector}
	afterRecord := collector.RecordAttempt
	if opts.AfterRecord != nil {
		afterRecord = func(p store.AttemptRecordParams) {
			collector.RecordAttempt(p)
			opts.AfterRecord(p)
		}
	}
	a := &App{cfg: cfg, opts: opts, log: opts.Logger, store: st, hub: hub, catalog: cat, redisQueue: rq, redisClient: redisClient, wakeups: wakeups, served: make(chan error, 1)}
	if cfg.OTLPEndpoint != "" || opts.SpanExporter != nil {
		if a.tracer, err = tracing.New(ctx, tracing.Options{Endpoint: cfg.OTLPEndpoint, Exporter: opts.SpanExporter, Version: Version}); err != nil {
			st.Close()
			return nil, err
		}
	}
	a.metrics = metrics.New(metrics.Options{
		Stats:             st,
		Destinations:      func() []string { return destinationNames(cat) },
		InFlight:          func() int64 { return a.engine.InFlight() },
		ConcurrencyLimits: func() map[string]int { return a.engine.ConcurrencyLimits() },
		StoreOps:          storeOps,
		QueueOps:          queueOps,
		Logger:            opts.Logger,
	})
	obs := observer{metrics: a.metrics, tracer: a.tracer}
	var limiter queue.RateLimiter // nil: the engine's in-process one
	if rq != nil {
		limiter = rq.RateLimiter()
		a.sweeper = delivery.NewSweeper(st, rq, delivery.SweeperOptions{Logger: opts.Logger,
			Skip: func(dest string) bool { return a.engine.Disabled(dest) }})
	}
	a.api = api.New(api.Options{
		Store: st, Catalog: cat, Queue: q, Hub: hub,
		Tokens:  auth.NewTokens(secret, cmp.Or(opts.TokenTTL, cfg.TokenTTL), nil),
		Keys:    apiKeys{st},
		Limiter: auth.NewLoginLimiter(auth.LimiterOptions{}),
		Logger:  opts.Logger,
		Stats:   collector,
		Adaptive: func(d webhook.Destination) api.AdaptiveView {
			st := a.engine.Adaptive(d)
			v := api.AdaptiveView{Limit: st.Limit, Cap: st.Cap, RateLimit: st.Rate}
			if !st.PausedUntil.IsZero() {
				v.PausedUntil = &st.PausedUntil
			}
			return v
		},
	})
	a.engine = delivery.New(delivery.Options{
		Queue:   q,
		Store:   st,
		Catalog: cat,
		Clients: egress.NewClients(egress.Options{AllowPrivate: cfg.AllowPrivateDestinations, AllowCIDRs: cfg.AllowDestinationCIDRs}),
		Retry: delivery.RetryPolicy{
			MaxRetries: cfg.MaxRetries, BaseDelay: cfg.RetryBaseDelay, MaxDelay: cfg.RetryMaxDelay, Jitter: 0.2,
		},
		Workers:         cfg.Workers,
		PollInterval:    opts.PollInterval,
		StateRefresh:    opts.StateRefresh,
		ShutdownTimeout: cfg.ShutdownTimeout,
		UserAgent:       "hookd/" + Version,
		Logger:          opts.Logger,
		AfterRecord:     afterRecord,
		Publisher:       publisher,
		States:          st,
		Breaker: delivery.BreakerPolicy{
			Failures: cfg.BreakerFailures, Cooldown: cfg.BreakerCooldown, DisableAfter: cfg.DisableAfter,
		},
		RateLimiter: limiter,
		Observer:    obs,
	})
	a.ingest = ingest.New(ingest.Options{Store: st, Queue: q, Catalog: cat, Logger: opts.Logger, Publisher: publisher, Observer: obs})
	a.sampler = stats.NewQueueSampler(collector, st, stats.SamplerOptions{Logger: opts.Logger})
	if cfg.Retention > 0 {
		a.retention = retention.New(st, retention.Options{MaxAge: cfg.Retention, Logger: opts.Logger})
	}
	a.guard = limit.New(limit.Options{Catalog: cat, MaxConcurrent: cfg.MaxConcurrentIngests, MaxBodyBytes: cfg.MaxBodyBytes,
		Logger: opts.Logger, Refused: a.metrics.Refused})
	// Slowloris: a client gets ReadHeaderTimeout for its headers and
	// ReadTimeout for the whole request, and a connection cannot hold more
	// than maxHeaderBytes of headers in memory. Handlers that answer for
	// long (the live stream) move their own deadlines.
	a.server = &http.Server{
		// Behind trusted proxies, RemoteAddr becomes the client they
		// forward for, before any handler reads it (allow-lists, logins).
		Handler:           clientip.Handler(cfg.TrustedProxies, a.routes()),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	if len(cat.Sources()) == 0 {
		a.log.Warn("no sources configured: every webhook will get 404; declare sources in a file named by HOOKD_CONFIG")
	}
	return a, nil
}

// Start recovers leases left by a crashed process, starts delivery and
// ingest, and serves HTTP.
func (a *App) Start(ctx context.Context) error {
	if ex, ok := a.store.(store.Exclusive); ok {
		n, err := ex.DeliveryReleaseAllLeases(ctx, time.Now())
		if err != nil {
			return fmt.Errorf("recover leases: %w", err)
		}
		if n > 0 {
			a.log.Info("recovered deliveries left in flight by a previous run", "count", n)
		}
	}
	if a.wakeups != nil {
		if err := a.wakeups.Start(ctx); err != nil {
			return fmt.Errorf("postgres wake-ups: %w", err)
		}
	}
	if a.redisQueue != nil {
		if err := a.redisQueue.Start(ctx); err != nil {
			return fmt.Errorf("redis queue: %w", err)
		}
		if err := a.sweeper.Start(ctx); err != nil {
			return err
		}
	}
	if !a.opts.DeferDelivery && a.cfg.Role != config.RoleAPI {
		if err := a.engine.Start(ctx); err != nil {
			return err
		}
	}
	if err := a.ingest.Start(ctx); err != nil {
		return err
	}
	// Retention runs where background work runs (all, worker); on
	// PostgreSQL several workers share it through SKIP LOCKED.
	if a.retention != nil && a.cfg.Role != config.RoleAPI {
		if err := a.retention.Start(ctx); err != nil {
			return err
		}
	}
	if _, exclusive := a.store.(store.Exclusive); !exclusive {
		// Other processes change the catalog through the API too.
		a.startCatalogReload(ctx)
	}
	if err := a.sampler.Start(ctx); err != nil {
		return err
	}
	ln := a.opts.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(a.cfg.Host, strconv.Itoa(a.cfg.Port)))
		if err != nil {
			a.engine.Stop()
			a.ingest.Stop()
			return fmt.Errorf("listen: %w", err)
		}
	}
	a.listener = ln
	go func() { a.served <- a.server.Serve(ln) }()
	a.log.Info("hookd listening", "addr", ln.Addr().String(), "version", Version, "database", a.cfg.DatabaseURL)
	return nil
}

// StartDelivery starts delivery when Options.DeferDelivery held it back.
func (a *App) StartDelivery(ctx context.Context) error { return a.engine.Start(ctx) }

// catalogReloadInterval is how soon a process sees sources and destinations
// that another process changed through the API.
const catalogReloadInterval = 5 * time.Second

func (a *App) startCatalogReload(ctx context.Context) {
	ctx, a.stopReload = context.WithCancel(context.WithoutCancel(ctx))
	a.reloaded = make(chan struct{})
	go func() {
		defer close(a.reloaded)
		t := time.NewTicker(catalogReloadInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := a.catalog.Reload(ctx); err != nil && ctx.Err() == nil {
					a.log.Warn("catalog reload failed", "err", err)
				}
			}
		}
	}()
}

// Addr is the address being served, after Start.
func (a *App) Addr() string { return a.listener.Addr().String() }

// Store exposes the store to in-process tools (simulate, bench, tests).
func (a *App) Store() store.Store { return a.store }

// Stop shuts down in reverse order: stop accepting and finish requests in
// progress, commit queued ingests, finish or hand back attempts in flight,
// close the store. Idempotent.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		var errs []error
		a.hub.Close() // ends live streams first: Shutdown would wait for them
		if a.listener != nil {
			if err := a.server.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
			if err := <-a.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		a.ingest.Stop()
		a.api.Stop() // replay jobs write to the store: before it closes
		a.engine.Stop()
		if a.retention != nil {
			a.retention.Stop()
		}
		if err := a.tracer.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush traces: %w", err))
		}
		a.sampler.Stop()
		if a.stopReload != nil {
			a.stopReload()
			<-a.reloaded
		}
		if a.sweeper != nil {
			a.sweeper.Stop()
		}
		if a.wakeups != nil {
			a.wakeups.Stop()
		}
		if a.redisQueue != nil {
			if err := a.redisQueue.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close redis queue: %w", err))
			}
			if err := a.redisClient.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close redis client: %w", err))
			}
		}
		if err := a.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		a.stopErr = errors.Join(errs...)
	})
	return a.stopErr
}

// Run starts an App and serves until ctx ends, then stops it.
func Run(ctx context.Context, cfg config.Config, opts Options) error {
	a, err := New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		a.Stop(context.Background())
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-a.served:
		a.served <- err
	}
	a.log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout+10*time.Second)
	defer cancel()
	return a.Stop(stopCtx)
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	if a.cfg.Role == config.RoleWorker {
		// A worker delivers; ingest and the API live in other processes.
		notHere := func(w http.ResponseWriter, r *http.Request) {
			httpx.WriteError(w, r, a.log, &httpx.Error{Status: http.StatusNotFound, Code: "not_served_here",
				Message: "this hookd process is a worker: send webhooks and API calls to a process with role all or api"})
		}
		mux.HandleFunc("/webhook/", notHere)
		mux.HandleFunc("/api/", notHere)
	} else {
		a.ingestRoutes(mux)
	}
	a.opsRoutes(mux)
	var notFound http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, a.log, fmt.Errorf("%s: %w", r.URL.Path, webhook.ErrNotFound))
	})
	if a.cfg.Role != config.RoleWorker {
		notFound = web.Handler(web.Options{NotFound: notFound}) // the dashboard, with its SPA fallback
	}
	mux.Handle("/", notFound)
	return mux
}

// ingestRoutes serves webhooks and the management API.
func (a *App) ingestRoutes(mux *http.ServeMux) {
	// The guard refuses floods (rate, concurrency, body cap) before ingest
	// reads a byte of the body.
	guarded := a.guard.Wrap(a.ingest)
	mux.Handle("/webhook/{source}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			httpx.WriteError(w, r, a.log, httpx.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use POST"))
			return
		}
		guarded.ServeHTTP(w, r)
	}))
	mux.Handle("/api/", a.api.Handler())
}

// opsRoutes serves health, readiness, queue status and metrics, on every
// role.
func (a *App) opsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /metrics", a.metrics.Handler())
	mux.HandleFunc("GET /debug/status", httpx.Handle(a.log, a.status))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", httpx.Handle(a.log, func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.store.Ping(ctx); err != nil {
			return &httpx.Error{Status: http.StatusServiceUnavailable, Code: "store_unavailable", Message: "store is not answering", Err: err}
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	}))
}

// maxHeaderBytes bounds the request line and headers a client may send:
// webhook providers send a few KiB, and each slow connection may hold this
// much in memory until ReadHeaderTimeout cuts it off.
const maxHeaderBytes = 64 << 10

// fanOut hands each live change to several publishers, in order. Each
// must not block (see delivery.Publisher).
type fanOut []interface{ Publish(stream.Change) }

func (f fanOut) Publish(c stream.Change) {
	for _, p := range f {
		p.Publish(c)
	}
}

// Status is the body of GET /debug/status.
type Status struct {
	store.QueueStats
	// InFlightLocal counts attempts running in this process right now.
	InFlightLocal int64 `json:"in_flight_local"`
	// IngestsInFlight counts webhooks this process is receiving right now,
	// against HOOKD_MAX_CONCURRENT_INGESTS.
	IngestsInFlight int `json:"ingests_in_flight"`
}

func (a *App) status(w http.ResponseWriter, r *http.Request) error {
	st, err := a.store.QueueStats(r.Context(), time.Now())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, Status{QueueStats: st, InFlightLocal: a.engine.InFlight(), IngestsInFlight: a.guard.InFlight()})
	return nil
}
