package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/client"
	"github.com/hookd/hookd/internal/stream"
)

// listenCommand is `hookd listen`: a development relay that forwards the
// events a running hookd receives to a URL on the developer's machine, as
// the Stripe CLI's listen does, so a receiver can be tried with real
// traffic without exposing it to the internet.
func listenCommand(envFile *string) *cobra.Command {
	rf := &remoteFlags{envFile: envFile}
	var (
		l       listener
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "listen --forward-to URL",
		Short: "Forward the events a running hookd receives to a local URL",
		Long: `listen subscribes to a running hookd's live stream (GET /api/stream) and,
for every new event of the chosen sources (--source, repeatable; all when
absent), fetches it and POSTs its original body, with its original
Content-Type, to --forward-to: a receiver you are developing on this
machine. It prints one line per forward: the time, the event id and type,
the local receiver's status and how long it took.

It forwards events as they arrive in hookd, independently of hookd's own
deliveries to its destinations, which go on as configured: listen adds a
copy for you and changes nothing on the server. Each event is forwarded
once: a failure is printed, never retried (send it again with hookd events
show ID --payload, or replay it to real destinations with hookd events
replay). --headers also forwards the headers hookd stored with the event
(the provider's signature headers among them, so a receiver can verify
them); --type keeps only some event types.

When the stream drops (hookd restarted, the network failed), listen
reconnects with backoff, from 0.5s up to 30s, and then forwards the
events it missed meanwhile, listed from GET /api/webhooks. Only events the
process serving the stream received are streamed: behind a load balancer,
point --server at one hookd process. Any role may listen; the credentials
travel in the Authorization header.`,
		Example: `  hookd listen --source github --forward-to http://localhost:3000/hooks
  hookd listen --source stripe --type 'charge.*' --headers --forward-to http://localhost:8080/stripe/webhook
  HOOKD_SERVER=https://hooks.example.com hookd listen --source shopify --forward-to http://localhost:3000/shopify`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := url.Parse(l.forwardTo)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("--forward-to: %q must be an absolute http:// or https:// URL such as http://localhost:3000/hooks", l.forwardTo)
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout: %s must be positive", timeout)
			}
			c, err := rf.client(cmd, true)
			if err != nil {
				return err
			}
			l.api = c
			l.http = &http.Client{Timeout: timeout}
			l.out, l.errOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return l.run(cmd.Context())
		},
	}
	rf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&l.forwardTo, "forward-to", "", "URL to POST each event to (required)")
	fl.StringSliceVar(&l.sources, "source", nil, "forward only events of this source (repeatable, or comma-separated)")
	fl.StringSliceVar(&l.types, "type", nil, `forward only events of this type; "prefix.*" matches a prefix (repeatable)`)
	fl.BoolVar(&l.headers, "headers", false, "also forward the headers stored with the event")
	fl.DurationVar(&timeout, "timeout", 10*time.Second, "how long the local receiver may take to answer")
	mustRegister(cmd.MarkFlagRequired("forward-to"))
	completeCatalog(cmd, rf, "source", sourceNames)
	return cmd
}

// Reconnection and bookkeeping limits of listen.
const (
	listenBackoffMin = 500 * time.Millisecond
	listenBackoffMax = 30 * time.Second
	// listenIdle ends a stream that sent nothing, not even a heartbeat
	// (every 15 s), for this long.
	listenIdle = 45 * time.Second
	// listenQueue is how many events may wait for the forwarder before new
	// ones are skipped (and said so): a stuck receiver must not make
	// listen hold the stream until the server drops it.
	listenQueue = 4096
	// listenRemember is how many forwarded event ids are remembered, so
	// that catching up after a reconnection sends none twice.
	listenRemember = 100_000
	// listenSlack widens the catch-up window: the Date header it starts
	// from has whole seconds.
	listenSlack = 2 * time.Second
)

// listener is one `hookd listen`.
type listener struct {
	api       *client.Client
	http      *http.Client
	forwardTo string
	sources   []string
	types     []string
	headers   bool
	out       io.Writer // a line per forward
	errOut    io.Writer // connection news

	seen      map[string]bool
	seenOrder []string
}

// run streams, forwards and reconnects until ctx ends (then it returns
// nil), or until the server refuses the credentials or the request.
func (l *listener) run(ctx context.Context) error {
	l.seen = map[string]bool{}
	queue := make(chan string, listenQueue)
	var wg sync.WaitGroup
	wg.Go(func() {
		for id := range queue {
			if ctx.Err() != nil {
				continue // drain: nothing more is forwarded after Ctrl-C
			}
			l.forward(ctx, id)
		}
	})
	defer func() {
		close(queue)
		wg.Wait()
	}()

	enqueue := func(id, eventType string) {
		if l.seen[id] || !l.wantType(eventType) {
			return
		}
		l.remember(id)
		select {
		case queue <- id:
		default:
			fmt.Fprintf(l.errOut, "skipped %s: %d events are waiting for the local receiver\n", id, listenQueue)
		}
	}

	backoff := listenBackoffMin
	var since time.Time // the server's time the last stream was known alive; zero before the first
	for {
		s, err := l.api.Stream(ctx, client.StreamParams{Sources: l.sources, Idle: listenIdle})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if status := client.StatusCode(err); status >= 400 && status < 500 && status != http.StatusTooManyRequests {
				return explain(l.api, err) // refused: trying again cannot help
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the URL is in the line already
			}
			fmt.Fprintf(l.errOut, "cannot connect to %s: %v; trying again in %s\n", l.api.BaseURL(), err, backoff)
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, listenBackoffMax)
			continue
		}
		connected := time.Now()
		serverNow := s.ServerTime()
		if since.IsZero() {
			fmt.Fprintf(l.errOut, "Ready: forwarding %s from %s to %s (Ctrl-C to stop)\n", l.what(), l.api.BaseURL(), l.forwardTo)
		} else {
			fmt.Fprintf(l.errOut, "reconnected to %s; catching up on events since %s\n", l.api.BaseURL(), since.Local().Format(time.TimeOnly))
			// The stream is open first, so nothing falls between the list
			// and the stream; ids seen already are skipped.
			if err := l.catchUp(ctx, since.Add(-listenSlack), enqueue); err != nil && ctx.Err() == nil {
				fmt.Fprintf(l.errOut, "could not catch up on missed events: %v\n", explain(l.api, err))
			}
		}
		since = serverNow
		if since.IsZero() {
			since = connected // a server without a Date header: this machine's clock, the best left
		}
		var streamErr error
		for {
			ch, err := s.Next()
			if err != nil {
				streamErr = err
				break
			}
			if ch.At.After(since) {
				since = ch.At
			}
			if ch.Kind == stream.KindEventCreated {
				enqueue(ch.EventID, ch.EventType)
			}
		}
		_ = s.Close() // the stream failed already; closing it cannot say more
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(connected) > listenBackoffMax {
			backoff = listenBackoffMin // it had been up a while: this is a new outage
		}
		reason := streamErr.Error()
		if errors.Is(streamErr, io.EOF) {
			reason = "the server closed it"
		}
		fmt.Fprintf(l.errOut, "stream lost (%s); reconnecting in %s\n", reason, backoff)
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// what describes the sources for the ready line.
func (l *listener) what() string {
	what := "events of every source"
	if len(l.sources) > 0 {
		what = "events of source " + strings.Join(l.sources, ", ")
	}
	if len(l.types) > 0 {
		what += " of type " + strings.Join(l.types, ", ")
	}
	return what
}

// wantType reports whether --type lets an event type through: exactly, or
// by prefix for a pattern ending in "*".
func (l *listener) wantType(eventType string) bool {
	if len(l.types) == 0 {
		return true
	}
	for _, t := range l.types {
		if prefix, ok := strings.CutSuffix(t, "*"); ok && strings.HasPrefix(eventType, prefix) || t == eventType {
			return true
		}
	}
	return false
}

// remember records a forwarded id, forgetting the oldest beyond
// listenRemember.
func (l *listener) remember(id string) {
	l.seen[id] = true
	l.seenOrder = append(l.seenOrder, id)
	if len(l.seenOrder) > listenRemember {
		delete(l.seen, l.seenOrder[0])
		l.seenOrder = l.seenOrder[1:]
	}
}

// catchUp enqueues, oldest first, the events received since from that the
// stream did not bring while it was down.
func (l *listener) catchUp(ctx context.Context, from time.Time, enqueue func(id, eventType string)) error {
	sources := l.sources
	if len(sources) == 0 {
		sources = []string{""} // every source
	}
	type missed struct{ id, eventType string }
	var all []missed
	for _, src := range sources {
		for page, err := range l.api.EventPages(ctx, client.ListParams{Source: src, From: from, Limit: 200}) {
			if err != nil {
				return err
			}
			for _, e := range page.Items {
				all = append(all, missed{e.ID, e.Type})
			}
		}
	}
	// Ids are time-ordered ULIDs: sorting by id puts the oldest first,
	// across sources too.
	slices.SortFunc(all, func(a, b missed) int { return strings.Compare(a.id, b.id) })
	for _, m := range all {
		enqueue(m.id, m.eventType)
	}
	return nil
}

// forward fetches one event and POSTs it to the local URL, once, printing
// one line with the outcome.
func (l *listener) forward(ctx context.Context, id string) {
	start := time.Now()
	line := func(eventType, result string) {
		fmt.Fprintf(l.out, "%s  %s  %s  -> %s (%s)\n", start.Format(time.TimeOnly), id, safeText(orDash(eventType)), result, humanDuration(time.Since(start)))
	}
	ev, err := l.api.Event(ctx, id)
	if err != nil {
		line("", "not forwarded: fetch the event: "+explain(l.api, err).Error())
		return
	}
	body, err := client.Payload(ev)
	if err != nil {
		line(ev.Type, "not forwarded: "+err.Error())
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.forwardTo, bytes.NewReader(body))
	if err != nil {
		line(ev.Type, "not forwarded: "+err.Error())
		return
	}
	if l.headers {
		for name, value := range ev.Headers {
			if !hopByHop[http.CanonicalHeaderKey(name)] {
				req.Header.Set(name, value)
			}
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "hookd/"+app.Version+" (listen)")
	}
	if ev.ContentType != "" {
		req.Header.Set("Content-Type", ev.ContentType)
	} else {
		req.Header.Del("Content-Type")
	}
	start = time.Now() // the line times the local receiver, not the fetch
	resp, err := l.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the same on every line
		}
		line(ev.Type, "failed: "+err.Error())
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	resp.Body.Close()
	line(ev.Type, resp.Status)
}

// hopByHop are the stored headers not forwarded with --headers: they
// describe the original connection, or are set by the request itself.
var hopByHop = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true, "Upgrade": true,
	"Accept-Encoding": true, "Content-Type": true,
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
