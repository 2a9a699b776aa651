// Package limit guards POST /webhook/{source} before the request body is
// read: a cap on the body size that no source can raise, a token bucket per
// source (webhook.Source.RateLimit and RateBurst), and a cap on ingests in
// progress. Every refusal is immediate and costs no body read and no store
// access: 413 for a body declared larger than the cap, 429 with Retry-After
// for a source over its rate, 503 with Retry-After when the process already
// holds as many ingests as it allows. Without the last one a flood would
// queue without bound in memory and goroutines; refusing at once lets the
// sender retry and a load balancer send the retry elsewhere.
//
// Every limit is per process. N processes behind a load balancer admit up
// to N times a source's rate. That is deliberate: the limits protect each
// process from more work than it can take, which is a per-process
// quantity, and a shared limiter (Redis) would put a network round trip,
// and Redis's availability, on the path of every 202.
package limit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/webhook"
)

// Catalog answers which sources exist; the catalog's live snapshot
// satisfies it, so a change made through the API applies to the next
// request.
type Catalog interface {
	Source(name string) (webhook.Source, bool)
}

// Options configure a Guard.
type Options struct {
	// Catalog looks up the source named by the "source" path value.
	Catalog Catalog
	// MaxConcurrent caps ingests in progress in this process: requests
	// whose headers have arrived and whose answer has not yet been
	// written, slow bodies included. 0 or less: no cap.
	MaxConcurrent int
	// MaxBodyBytes caps every request body, whatever its source allows.
	// 0 or less: no cap beyond the source's own.
	MaxBodyBytes int64
	// Now reads the clock. Default time.Now.
	Now func() time.Time
	// Logger hears refusals at debug level (a flood must not flood the
	// log). Default: discard.
	Logger *slog.Logger
	// Refused, when set, hears every refusal with the HTTP status
	// answered (413, 429, 503), for metrics. source is empty when the
	// name is not a configured source, so that a sender inventing names
	// cannot grow a label set without bound.
	Refused func(source string, status int)
}

// Refusal codes in the JSON error body, for senders and dashboards.
const (
	CodeRateLimited = "rate_limited"
	CodeOverloaded  = "overloaded"
	CodeBodyTooBig  = "body_too_large"
)

// overloadRetryAfter is what a 503 for the concurrency cap asks the sender
// to wait: ingests finish in milliseconds, so a slot is usually free again
// long before a second has passed.
const overloadRetryAfter = time.Second

// Guard is the inbound traffic control in front of the ingest handler. It
// is safe for concurrent use.
type Guard struct {
	opts    Options
	sources *Sources
	// slots holds one value per ingest in progress; nil when uncapped.
	slots chan struct{}
}

// New returns a Guard.
func New(opts Options) *Guard {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{opts: opts, sources: NewSources()}
	if opts.MaxConcurrent > 0 {
		g.slots = make(chan struct{}, opts.MaxConcurrent)
	}
	return g
}

// InFlight is the number of ingests in progress in this process, as the
// concurrency cap counts them.
func (g *Guard) InFlight() int { return len(g.slots) }

// Wrap returns next behind the guard. The request must be routed with the
// source name in the "source" path value. Requests for unknown sources are
// passed on (next answers 404) without spending any bucket, but count
// against the concurrency cap like any other.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.admit(w, r, next); err != nil {
			var he *httpx.Error
			if g.opts.Refused != nil && errors.As(err, &he) {
				name := r.PathValue("source")
				if _, ok := g.opts.Catalog.Source(name); !ok {
					name = ""
				}
				g.opts.Refused(name, he.Status)
			}
			httpx.WriteError(w, r, g.opts.Logger, err)
		}
	})
}

func (g *Guard) admit(w http.ResponseWriter, r *http.Request, next http.Handler) error {
	name := r.PathValue("source")
	if max := g.opts.MaxBodyBytes; max > 0 {
		if r.ContentLength > max {
			g.opts.Logger.Debug("webhook refused: body over the server's cap", "source", name, "content_length", r.ContentLength)
			return tooLarge(max)
		}
		// Chunked bodies have no length up front; the reader stops at the
		// cap and the ingest handler answers 413.
		r.Body = http.MaxBytesReader(w, r.Body, max)
	}
	undo := func() {}
	if src, ok := g.opts.Catalog.Source(name); !ok {
		g.sources.Forget(name)
	} else {
		var wait time.Duration
		if undo, wait = g.sources.Take(src, g.opts.Now()); wait > 0 {
			g.opts.Logger.Debug("webhook refused: source over its rate limit", "source", name, "retry_after", wait)
			limit, burst, _ := Bucket(src)
			return &httpx.Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited, RetryAfter: wait,
				Message: fmt.Sprintf("source %q accepts %s requests per second (bursts of %d); retry later",
					name, strconv.FormatFloat(float64(limit), 'g', -1, 64), burst)}
		}
	}
	if g.slots != nil {
		select {
		case g.slots <- struct{}{}:
			defer func() { <-g.slots }()
		default:
			undo() // the sender did not get in; its token is not spent
			g.opts.Logger.Debug("webhook refused: too many ingests in progress", "source", name, "max", cap(g.slots))
			return &httpx.Error{Status: http.StatusServiceUnavailable, Code: CodeOverloaded, RetryAfter: overloadRetryAfter,
				Message: "this server is receiving as many webhooks as it can at once; retry shortly"}
		}
	}
	next.ServeHTTP(w, r)
	return nil
}

func tooLarge(max int64) error {
	return &httpx.Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooBig, Err: webhook.ErrBodyTooLarge,
		Message: fmt.Sprintf("request body is larger than this server accepts (%d bytes)", max)}
}
