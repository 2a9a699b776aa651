// Package receiver is a real HTTP webhook receiver on loopback, for the
// simulation, the benchmark and integration tests: it answers each delivery
// as a Behavior decides and reports every arrival. It is a leaf: it knows
// only the Standard Webhooks header names.
package receiver

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Arrival is one request that reached the receiver.
type Arrival struct {
	// WebhookID is the webhook-id header: stable per delivery.
	WebhookID string
	Header    http.Header
	Body      []byte
	At        time.Time
	// Try counts arrivals with this WebhookID, 1 for the first.
	Try int
	// Status is what the receiver answered.
	Status int
}

// Behavior decides the status code for an arrival (Try is set). Returning
// 0 means 200. It may sleep to play a slow receiver; it should honour ctx.
type Behavior func(ctx context.Context, a Arrival) int

// Always answers status every time.
func Always(status int) Behavior {
	return func(context.Context, Arrival) int { return status }
}

// FailFirst answers failStatus to the first n tries of each delivery, then 200.
func FailFirst(n, failStatus int) Behavior {
	return func(_ context.Context, a Arrival) int {
		if a.Try <= n {
			return failStatus
		}
		return http.StatusOK
	}
}

// Receiver is a running receiver.
type Receiver struct {
	behavior Behavior
	onArrive func(Arrival)
	srv      *http.Server
	ln       net.Listener
	done     chan struct{}

	mu       sync.Mutex
	tries    map[string]int
	arrivals []Arrival
	keep     bool
}

// Options shape a Receiver.
type Options struct {
	// OnArrival is called for each arrival after it is answered.
	OnArrival func(Arrival)
	// Keep stores every arrival for Arrivals; off for load tests.
	Keep bool
}

// Start listens on a free loopback port and serves.
func Start(b Behavior, opts Options) (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return Serve(ln, b, opts)
}

// Serve serves on ln until Close.
func Serve(ln net.Listener, b Behavior, opts Options) (*Receiver, error) {
	r := &Receiver{behavior: b, onArrive: opts.OnArrival, ln: ln, tries: map[string]int{}, keep: opts.Keep, done: make(chan struct{})}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(ln) // returns ErrServerClosed on Close
	}()
	return r, nil
}

// URL is the receiver's base URL.
func (r *Receiver) URL() string { return "http://" + r.ln.Addr().String() }

// Close stops the receiver at once, dropping open connections.
func (r *Receiver) Close() {
	_ = r.srv.Close()
	<-r.done
}

// Arrivals returns a copy of the kept arrivals.
func (r *Receiver) Arrivals() []Arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Arrival(nil), r.arrivals...)
}

// Tries returns how many times each webhook-id arrived.
func (r *Receiver) Tries() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.tries))
	for k, v := range r.tries {
		out[k] = v
	}
	return out
}

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	a := Arrival{WebhookID: req.Header.Get("webhook-id"), Header: req.Header, Body: body, At: time.Now()}
	r.mu.Lock()
	r.tries[a.WebhookID]++
	a.Try = r.tries[a.WebhookID]
	r.mu.Unlock()
	a.Status = r.behavior(req.Context(), a)
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	if r.keep {
		r.mu.Lock()
		r.arrivals = append(r.arrivals, a)
		r.mu.Unlock()
	}
	w.WriteHeader(a.Status)
	if r.onArrive != nil {
		r.onArrive(a)
	}
}
