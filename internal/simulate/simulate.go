// Package simulate runs the whole flow in one process, as a demonstration
// and a smoke test: hookd on a temporary store, three local receivers (one
// healthy, one flaky, one dead), a burst of webhooks from several sources,
// and a report of how every event went. It fails if any accepted event was
// neither delivered nor dead-lettered, or if any receiver saw a body that
// was not the one sent.
package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Options shape a simulation.
type Options struct {
	// Events is how many webhooks the burst sends. Default 90.
	Events int
	// Timeout bounds the whole run. Default 50s.
	Timeout time.Duration
	Out     io.Writer
	// Verbose logs every attempt.
	Verbose bool
}

// Command returns `hookd simulate`.
func Command() *cobra.Command {
	var opts Options
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run a self-contained simulation: hookd, flaky receivers and a burst of webhooks",
		Long: `simulate starts hookd in-process on a temporary store with three local
receivers (healthy: always 200; flaky: 503 on the first two tries of each
delivery; dead: always 500), sends a burst of webhooks from the sources
github, stripe and shopify, and reports how each event went. It exits
non-zero if any accepted event was lost.`,
		Example: `  hookd simulate
  hookd simulate -n 500 --verbose`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out = cmd.OutOrStdout()
			v, _ := cmd.Flags().GetBool("verbose")
			opts.Verbose = v
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Events, "events", "n", 90, "webhooks in the burst")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 50*time.Second, "give up after this long")
	return cmd
}

// tracker follows every delivery through the AfterRecord hook.
type tracker struct {
	mu       sync.Mutex
	attempts map[string]int            // delivery → attempts
	final    map[string]webhook.Status // delivery → terminal status
	changed  chan struct{}
}

func (t *tracker) record(p store.AttemptRecordParams) {
	t.mu.Lock()
	t.attempts[p.Attempt.DeliveryID] = p.Attempt.Number
	if p.Status.Terminal() {
		t.final[p.Attempt.DeliveryID] = p.Status
	}
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// Run runs one simulation.
func Run(ctx context.Context, opts Options) error {
	if opts.Events <= 0 {
		opts.Events = 90
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 50 * time.Second
	}
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	out := opts.Out
	start := time.Now()

	dir, err := os.MkdirTemp("", "hookd-simulate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	healthy, err := receiver.Start(receiver.Always(http.StatusOK), receiver.Options{Keep: true})
	if err != nil {
		return err
	}
	defer healthy.Close()
	flaky, err := receiver.Start(receiver.FailFirst(2, http.StatusServiceUnavailable), receiver.Options{Keep: true})
	if err != nil {
		return err
	}
	defer flaky.Close()
	dead, err := receiver.Start(receiver.Always(http.StatusInternalServerError), receiver.Options{Keep: true})
	if err != nil {
		return err
	}
	defer dead.Close()

	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + dir + "/hookd.db"
	cfg.MaxRetries = 3
	cfg.RetryBaseDelay = 100 * time.Millisecond
	cfg.RetryMaxDelay = 2 * time.Second
	// The simulation shows retries ending in success or permanent_failure;
	// the circuit breaker would hold the dead receiver's deliveries instead.
	cfg.BreakerFailures = 0
	cfg.AllowPrivateDestinations = true
	cfg.Sources = []webhook.Source{
		{Name: "github", MaxBodyBytes: config.DefaultMaxBodyBytes},
		{Name: "stripe", MaxBodyBytes: config.DefaultMaxBodyBytes},
		{Name: "shopify", MaxBodyBytes: config.DefaultMaxBodyBytes},
	}
	dest := func(name, url string, sources ...string) webhook.Destination {
		return webhook.Destination{Name: name, URL: url + "/hooks", Sources: sources, Timeout: 5 * time.Second, MaxInFlight: 16}
	}
	cfg.Destinations = []webhook.Destination{
		dest("healthy", healthy.URL(), "github", "stripe", "shopify"),
		dest("flaky", flaky.URL(), "github", "stripe"),
		dest("dead", dead.URL(), "shopify"),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelDebug
	}
	tr := &tracker{attempts: map[string]int{}, final: map[string]webhook.Status{}, changed: make(chan struct{}, 1)}
	a, err := app.New(ctx, cfg, app.Options{
		Logger:      slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})),
		Stderr:      io.Discard,
		Listener:    ln,
		AfterRecord: tr.record,
	})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	defer a.Stop(context.Background())
	base := "http://" + a.Addr()
	fmt.Fprintf(out, "hookd simulate: hookd on %s, store %s\n", base, dir)
	fmt.Fprintf(out, "receivers: healthy %s (200), flaky %s (503 twice, then 200), dead %s (500)\n", healthy.URL(), flaky.URL(), dead.URL())
	fmt.Fprintf(out, "retries: %d after the first try, base delay %s\n\n", cfg.MaxRetries, cfg.RetryBaseDelay)

	// The burst: concurrent senders, bodies that say who sent them.
	sources := []string{"github", "stripe", "shopify"}
	type sent struct {
		source string
		body   []byte
	}
	accepted := map[string]sent{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var sendErrs []error
	client := &http.Client{Timeout: 10 * time.Second}
	// Before a.Stop (defers run last-in first-out): a connection that was
	// dialled but never used would hold up the server's graceful shutdown.
	defer client.CloseIdleConnections()
	for i := range opts.Events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := sources[i%len(sources)]
			body := fmt.Appendf(nil, `{"simulation":true,"n":%d,"source":%q,"type":"sim.event"}`, i, src)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhook/"+src, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				mu.Lock()
				sendErrs = append(sendErrs, err)
				mu.Unlock()
				return
			}
			defer resp.Body.Close()
			var r struct {
				ID string `json:"id"`
			}
			if resp.StatusCode != http.StatusAccepted || json.NewDecoder(resp.Body).Decode(&r) != nil {
				mu.Lock()
				sendErrs = append(sendErrs, fmt.Errorf("webhook %d: HTTP %d", i, resp.StatusCode))
				mu.Unlock()
				return
			}
			mu.Lock()
			accepted[r.ID] = sent{source: src, body: body}
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Fprintf(out, "sent %d webhooks: %d accepted (202), %d refused\n", opts.Events, len(accepted), len(sendErrs))

	bodies := map[string][]byte{}
	for id, s := range accepted {
		bodies[id] = s.body
	}

	// Follow the deliveries until every one is terminal.
	st := a.Store()
	deliveries := map[string][]webhook.Delivery{}
	total := 0
	for id := range accepted {
		ds, err := st.DeliveryListByEvent(ctx, id)
		if err != nil {
			return err
		}
		deliveries[id] = ds
		total += len(ds)
	}
	reported := map[string]bool{}
	ids := make([]string, 0, len(accepted))
	for id := range accepted {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		tr.mu.Lock()
		done := len(tr.final)
		for _, id := range ids {
			if reported[id] {
				continue
			}
			finished := true
			line := ""
			for _, d := range deliveries[id] {
				s, ok := tr.final[d.ID]
				if !ok {
					finished = false
					break
				}
				line += fmt.Sprintf("  %s: %s after %d %s", d.Destination, s, tr.attempts[d.ID], plural(tr.attempts[d.ID], "try", "tries"))
			}
			if finished {
				reported[id] = true
				fmt.Fprintf(out, "%s %-7s%s\n", id, accepted[id].source, line)
			}
		}
		tr.mu.Unlock()
		if done >= total {
			break
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(out, "\ntimed out with %d of %d deliveries finished\n", done, total)
			return summarize(context.WithoutCancel(ctx), out, st, bodies, deliveries, []*receiver.Receiver{healthy, flaky, dead}, start, true)
		case <-tr.changed:
		case <-tick.C:
			stats, err := st.QueueStats(ctx, time.Now())
			if err == nil {
				fmt.Fprintf(out, "  … %d/%d deliveries finished; queue %d, scheduled %d, in flight %d, dead %d\n",
					done, total, stats.Ready, stats.Scheduled, stats.InFlight, stats.Dead)
			}
		}
	}
	return summarize(ctx, out, st, bodies, deliveries, []*receiver.Receiver{healthy, flaky, dead}, start, false)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// summarize checks every accepted event against the store and the
// receivers and prints the verdict. It returns an error when anything was
// lost or altered.
func summarize(ctx context.Context, out io.Writer, st store.Store, bodies map[string][]byte, deliveries map[string][]webhook.Delivery,
	receivers []*receiver.Receiver, start time.Time, timedOut bool) error {
	arrived := map[string][]byte{} // webhook-id → body of a 2xx arrival
	for _, r := range receivers {
		for _, a := range r.Arrivals() {
			if a.Status/100 == 2 {
				arrived[a.WebhookID] = a.Body
			}
		}
	}
	type row struct{ success, dead, other, tries int }
	perDest := map[string]*row{}
	var problems []error
	for id, ds := range deliveries {
		for _, d := range ds {
			cur, err := st.DeliveryListByEvent(ctx, id)
			if err != nil {
				return err
			}
			var now webhook.Delivery
			for _, c := range cur {
				if c.ID == d.ID {
					now = c
				}
			}
			r := perDest[d.Destination]
			if r == nil {
				r = &row{}
				perDest[d.Destination] = r
			}
			r.tries += now.Attempts
			switch now.Status {
			case webhook.StatusSuccess:
				r.success++
				body, ok := arrived[d.ID]
				switch {
				case !ok:
					problems = append(problems, fmt.Errorf("delivery %s marked success but never arrived", d.ID))
				case !bytes.Equal(body, bodies[id]):
					problems = append(problems, fmt.Errorf("delivery %s arrived with a different body", d.ID))
				}
			case webhook.StatusPermanentFailure:
				r.dead++
			default:
				r.other++
				problems = append(problems, fmt.Errorf("delivery %s of event %s is still %s", d.ID, id, now.Status))
			}
		}
	}
	fmt.Fprintf(out, "\nsummary after %s:\n", time.Since(start).Round(time.Millisecond))
	names := make([]string, 0, len(perDest))
	for n := range perDest {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := perDest[n]
		fmt.Fprintf(out, "  %-8s %4d delivered, %4d permanent_failure, %4d unfinished, %5d attempts\n", n, r.success, r.dead, r.other, r.tries)
	}
	stats, err := st.QueueStats(ctx, time.Now())
	if err == nil {
		fmt.Fprintf(out, "  store: %d dead, %d still queued\n", stats.Dead, stats.Ready+stats.Scheduled+stats.InFlight)
	}
	if timedOut {
		problems = append(problems, errors.New("simulation timed out"))
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(out, "  LOST:", p)
		}
		return fmt.Errorf("simulation failed: %d problems", len(problems))
	}
	fmt.Fprintln(out, "  nothing lost: every accepted event was delivered or dead-lettered")
	return nil
}
