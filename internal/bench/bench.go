// Package bench is `hookd bench`: it starts hookd in-process with the
// embedded default on loopback, a local receiver, and N concurrent senders
// for a fixed time, then reports ingest throughput and 202 latency,
// delivery throughput, end-to-end latency (sent → arrived at the receiver)
// and peak RSS. With --rate it offers a fixed load instead of a closed
// loop, and measures latency from each request's scheduled time so that a
// stall is not hidden (no coordinated omission). With --worker-processes
// the in-process hookd only ingests (role api) and `hookd worker` child
// processes deliver, sharing its PostgreSQL store and its queue.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// Options shape one run.
type Options struct {
	Duration time.Duration
	Senders  int
	BodySize int
	// Rate, when positive, offers this many requests per second in total;
	// zero means each sender sends as fast as it gets answers.
	Rate int
	// Drain bounds the wait for deliveries after sending stops.
	Drain   time.Duration
	Workers int
	// Destinations is how many destinations subscribe to the source (all
	// served by one local receiver); 0 measures ingest alone.
	Destinations int
	// DeferDelivery holds delivery back until sending ends, so that
	// deliveries/s measures draining a backlog with nothing competing.
	DeferDelivery bool
	// Dir holds the store; a temporary directory when empty.
	Dir string
	// DatabaseURL, when set, is the store instead (postgres://… or
	// mongodb://…); it should be empty, since the figures count only this
	// run's events.
	DatabaseURL string
	// RedisURL and RedisPrefix, when set, use the Redis queue.
	RedisURL, RedisPrefix string
	// WorkerProcesses, when positive, delivers with that many `hookd
	// worker` processes instead of in-process; it needs a PostgreSQL
	// DatabaseURL. With DeferDelivery they start when sending ends.
	WorkerProcesses int
	// HookdBinary is the binary run as `hookd worker`; default the running
	// executable.
	HookdBinary string
	JSON        bool
	Out         io.Writer
	// CPUProfile, when set, writes a CPU profile of the run there.
	CPUProfile string
	// DeadLetters, when positive, seeds that many dead letters and
	// replays them through the API during the run (replay.go); it needs
	// Rate.
	DeadLetters int
	// ReplayRate is the replay's pace per second; 0: the API's default.
	ReplayRate float64
	// ReplayAfter is how long live traffic runs quiet before the replay
	// starts. Default a quarter of Duration.
	ReplayAfter time.Duration
}

// Result is what a run measured.
type Result struct {
	Duration       string  `json:"duration"`
	Senders        int     `json:"senders"`
	BodyBytes      int     `json:"body_bytes"`
	OfferedRate    int     `json:"offered_rate,omitempty"`
	DeferDelivery  bool    `json:"defer_delivery,omitempty"`
	Accepted       int64   `json:"accepted"`
	Errors         int64   `json:"errors"`
	IngestPerSec   float64 `json:"ingest_per_sec"`
	IngestP50Ms    float64 `json:"ingest_p50_ms"`
	IngestP99Ms    float64 `json:"ingest_p99_ms"`
	Delivered      int64   `json:"delivered"`
	DeliverPerSec  float64 `json:"deliveries_per_sec"`
	EndToEndP50Ms  float64 `json:"e2e_p50_ms"`
	EndToEndP99Ms  float64 `json:"e2e_p99_ms"`
	PeakRSSMiB     float64 `json:"peak_rss_mib"`
	Destinations   int     `json:"destinations"`
	Lost           int64   `json:"lost"`
	GoMaxProcs     int     `json:"gomaxprocs"`
	DeliveryWindow string  `json:"delivery_window"`
	// WorkerProcesses is how many `hookd worker` processes delivered; when
	// there were any, PeakRSSMiB is the bench process's alone and
	// WorkerPeakRSSMiB the largest among the workers.
	WorkerProcesses  int     `json:"worker_processes,omitempty"`
	WorkerPeakRSSMiB float64 `json:"worker_peak_rss_mib,omitempty"`
	// With --dead-letters: live end-to-end latency of webhooks sent before
	// the replay (after a 1 s warm-up) and while it ran, and the replay's
	// outcome.
	DeadLetters     int     `json:"dead_letters,omitempty"`
	ReplayRate      float64 `json:"replay_rate,omitempty"`
	ReplayState     string  `json:"replay_state,omitempty"`
	Replayed        int     `json:"replayed,omitempty"`
	ReplayedArrived int64   `json:"replayed_arrived,omitempty"`
	ReplaySeconds   float64 `json:"replay_seconds,omitempty"`
	// ReplayHeldSeconds is how long the replay waited for delivery to
	// catch up (the API's held_seconds).
	ReplayHeldSeconds float64 `json:"replay_held_seconds,omitempty"`
	QuietE2EP50Ms     float64 `json:"quiet_e2e_p50_ms,omitempty"`
	QuietE2EP99Ms     float64 `json:"quiet_e2e_p99_ms,omitempty"`
	ReplayE2EP50Ms    float64 `json:"replay_e2e_p50_ms,omitempty"`
	ReplayE2EP99Ms    float64 `json:"replay_e2e_p99_ms,omitempty"`
	ReplayP99Ratio    float64 `json:"replay_p99_ratio,omitempty"`
	QuietSamples      int     `json:"quiet_samples,omitempty"`
	ReplaySamples     int     `json:"replay_samples,omitempty"`
}

// Command returns `hookd bench`.
func Command() *cobra.Command {
	var opts Options
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest and delivery throughput and latency on loopback",
		Long: `bench starts hookd in-process (embedded SQLite store and queue) on a
loopback port with a local receiver, drives concurrent senders for a fixed
time, waits for every delivery, and reports ingest requests/s with p50/p99
latency of the 202, deliveries/s, end-to-end latency (sent → arrived) p50/p99
and the process's peak RSS (which includes the senders and the receiver).
While it runs, progress goes to stderr: a bar on a terminal, else one line
a second with the counts so far.

With --worker-processes N (and --database-url postgres://…), the in-process
hookd only ingests (role api) and N "hookd worker" processes of the same
binary deliver, sharing its store, queue and catalog; with --defer-delivery
they start when sending ends, and the drain is timed from their start.
--database-url mongodb://… runs on the MongoDB store (in-process delivery
only: worker processes need PostgreSQL here, since on FerretDB, the test
server, only one process may write a database).

With --dead-letters N (and --rate), bench also seeds N dead letters to a
destination of their own on the same receiver and, --replay-after into the
run, replays them all through the API (POST /api/dead-letters/replays) at
--replay-rate per second, as an operator would. It reports live end-to-end
latency apart for webhooks sent before the replay (quiet, after a 1 s
warm-up) and while it ran, their p99 ratio, and how many dead letters were
replayed and arrived. A replay still running when sending ends is
cancelled.`,
		Example: `  hookd bench --duration 30s --senders 64
  hookd bench --rate 2000 --destinations 4 --json
  hookd bench --rate 500 --duration 25s --dead-letters 20000 --replay-rate 1000 --replay-after 5s
  hookd bench --database-url postgres://hookd@localhost/bench --redis-url redis://localhost:6379 --worker-processes 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out = cmd.OutOrStdout()
			_, err := Run(cmd.Context(), opts)
			return err
		},
	}
	f := cmd.Flags()
	f.DurationVarP(&opts.Duration, "duration", "d", 10*time.Second, "how long to send")
	f.IntVarP(&opts.Senders, "senders", "s", 64, "concurrent senders")
	f.IntVar(&opts.BodySize, "body-size", 300, "bytes of JSON per webhook")
	f.IntVarP(&opts.Rate, "rate", "r", 0, "offered requests/s in total (0: as fast as possible)")
	f.DurationVar(&opts.Drain, "drain", 60*time.Second, "how long to wait for deliveries after sending")
	f.IntVar(&opts.Workers, "workers", 64, "delivery workers")
	f.IntVar(&opts.Destinations, "destinations", 1, "destinations subscribed to the source (0: ingest only)")
	f.BoolVar(&opts.DeferDelivery, "defer-delivery", false, "start delivering only when sending ends, and time the drain alone")
	f.StringVar(&opts.Dir, "dir", "", "directory for the store (default: a temporary one)")
	f.StringVar(&opts.RedisURL, "redis-url", "", "use the Redis queue (redis://…)")
	f.StringVar(&opts.RedisPrefix, "redis-prefix", "hookd_bench:", "prefix of the benchmark's Redis keys")
	f.StringVar(&opts.DatabaseURL, "database-url", "", "use this store instead of a temporary SQLite file (postgres://… or mongodb://…; use an empty database or schema)")
	f.IntVar(&opts.WorkerProcesses, "worker-processes", 0, "deliver with this many hookd worker processes, --workers each (0: in-process; needs --database-url postgres://…)")
	f.StringVar(&opts.HookdBinary, "hookd-binary", "", "binary to run as hookd worker (default: this executable)")
	f.BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.IntVar(&opts.DeadLetters, "dead-letters", 0, "seed this many dead letters and replay them during the run (needs --rate)")
	f.Float64Var(&opts.ReplayRate, "replay-rate", 0, "pace of the replay, dead letters per second (0: the API's default, 200)")
	f.DurationVar(&opts.ReplayAfter, "replay-after", 0, "quiet time before the replay starts (default: a quarter of --duration)")
	return cmd
}

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) percentile(p float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	i := int(float64(len(l.d)-1) * p)
	return float64(l.d[i]) / float64(time.Millisecond)
}

// Run runs one benchmark.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Duration <= 0 {
		opts.Duration = 10 * time.Second
	}
	if opts.Senders <= 0 {
		opts.Senders = 64
	}
	if opts.BodySize < 64 {
		opts.BodySize = 64
	}
	if opts.Drain <= 0 {
		opts.Drain = 60 * time.Second
	}
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Destinations < 0 {
		opts.Destinations = 0
	}
	res := Result{DeferDelivery: opts.DeferDelivery, Destinations: opts.Destinations, Duration: opts.Duration.String(), Senders: opts.Senders, BodyBytes: opts.BodySize, OfferedRate: opts.Rate, GoMaxProcs: runtime.GOMAXPROCS(0),
		WorkerProcesses: opts.WorkerProcesses}
	if opts.WorkerProcesses < 0 {
		return res, fmt.Errorf("--worker-processes: %d is below 0", opts.WorkerProcesses)
	}
	var phases *replayPhases
	if opts.DeadLetters > 0 {
		switch {
		case opts.Rate <= 0:
			return res, errors.New("--dead-letters needs --rate: latency with and without a replay compares only under the same offered load")
		case opts.WorkerProcesses > 0 || opts.DeferDelivery:
			return res, errors.New("--dead-letters measures in-process delivery of live traffic: not with --worker-processes or --defer-delivery")
		case opts.ReplayRate < 0:
			return res, fmt.Errorf("--replay-rate: %g is below 0", opts.ReplayRate)
		}
		if opts.ReplayAfter <= 0 {
			opts.ReplayAfter = opts.Duration / 4
		}
		phases = &replayPhases{}
		res.DeadLetters, res.ReplayRate = opts.DeadLetters, opts.ReplayRate
	}
	hookdBinary := opts.HookdBinary
	if opts.WorkerProcesses > 0 {
		if !strings.HasPrefix(opts.DatabaseURL, "postgres://") && !strings.HasPrefix(opts.DatabaseURL, "postgresql://") {
			return res, errors.New("--worker-processes needs --database-url postgres://…: worker processes share the store with the bench")
		}
		if hookdBinary == "" {
			exe, err := os.Executable()
			if err != nil {
				return res, fmt.Errorf("find the hookd binary for worker processes (set --hookd-binary): %w", err)
			}
			hookdBinary = exe
		}
		// Before the store is touched: a wrong path should cost nothing.
		if _, err := exec.LookPath(hookdBinary); err != nil {
			return res, fmt.Errorf("--hookd-binary: %w", err)
		}
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "hookd-bench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}

	var delivered atomic.Int64
	var lastArrival atomic.Int64
	e2e := &latencies{}
	recv, err := receiver.Start(receiver.Always(http.StatusOK), receiver.Options{OnArrival: func(a receiver.Arrival) {
		if a.Try != 1 {
			return
		}
		sent := sentAt(a.Body)
		if sent == 0 && phases != nil { // a replayed dead letter, not live
			phases.arrived.Add(1)
			return
		}
		if sent > 0 {
			e2e.add(time.Duration(a.At.UnixNano() - sent))
			if phases != nil {
				phases.sample(sent, time.Duration(a.At.UnixNano()-sent))
			}
		}
		delivered.Add(1)
		lastArrival.Store(a.At.UnixNano())
	}})
	if err != nil {
		return res, err
	}
	defer recv.Close()

	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + dir + "/hookd.db"
	if opts.DatabaseURL != "" {
		cfg.DatabaseURL = opts.DatabaseURL
	}
	if opts.RedisURL != "" {
		cfg.RedisURL, cfg.RedisPrefix = opts.RedisURL, opts.RedisPrefix
	}
	cfg.AllowPrivateDestinations = true
	cfg.Workers = max(opts.Workers, 1)
	cfg.Sources = []webhook.Source{{Name: "bench", MaxBodyBytes: config.DefaultMaxBodyBytes}}
	for i := range opts.Destinations {
		cfg.Destinations = append(cfg.Destinations, webhook.Destination{
			Name: fmt.Sprintf("receiver-%d", i), URL: fmt.Sprintf("%s/hooks/%d", recv.URL(), i), Sources: []string{"bench"},
			Timeout: 10 * time.Second, MaxInFlight: cfg.Workers,
		})
	}
	var password string
	if phases != nil {
		password = adminPassword()
		cfg.AdminPassword = password
		cfg.Sources = append(cfg.Sources, webhook.Source{Name: replaySource, MaxBodyBytes: config.DefaultMaxBodyBytes})
		cfg.Destinations = append(cfg.Destinations, webhook.Destination{
			Name: replayDestination, URL: recv.URL() + "/replayed", Sources: []string{replaySource},
			Timeout: 10 * time.Second, MaxInFlight: cfg.Workers,
		})
	}
	if opts.WorkerProcesses > 0 {
		cfg.Role = config.RoleAPI // the worker processes deliver
		if err := writeCatalog(catalogPath(dir), cfg.Sources, cfg.Destinations); err != nil {
			return res, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Stderr: io.Discard, Listener: ln, DeferDelivery: opts.DeferDelivery})
	if err != nil {
		return res, err
	}
	if err := a.Start(ctx); err != nil {
		return res, err
	}
	defer a.Stop(context.Background())
	url := "http://" + a.Addr() + "/webhook/bench"

	// Deferred last, so the worker processes stop first, while the
	// receiver still answers the attempts they have in flight.
	var procs *workers
	defer func() {
		if procs != nil {
			procs.stop()
		}
	}()
	startWorkerProcesses := func() error {
		var err error
		procs, err = startWorkers(ctx, workerOptions{Binary: hookdBinary, Count: opts.WorkerProcesses, Dir: dir,
			ConfigFile: catalogPath(dir), Env: workerEnv(cfg), Stderr: os.Stderr})
		return err
	}
	if opts.WorkerProcesses > 0 && !opts.DeferDelivery {
		if err := startWorkerProcesses(); err != nil {
			return res, err
		}
	}

	transport := &http.Transport{MaxIdleConns: opts.Senders * 2, MaxIdleConnsPerHost: opts.Senders * 2, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	padding := strings.Repeat("x", max(opts.BodySize-60, 0))
	var replayAPI *apiClient
	if phases != nil { // before sending starts: seeding must not eat into it
		if err := seedDeadLetters(ctx, a.Store(), opts.DeadLetters); err != nil {
			return res, err
		}
		replayAPI = &apiClient{base: "http://" + a.Addr(), client: client}
		if err := replayAPI.login(ctx, password); err != nil {
			return res, fmt.Errorf("log in to start the replay: %w", err)
		}
	}

	ingest := &latencies{}
	var accepted, errs atomic.Int64
	var seq atomic.Int64
	sendCtx, stop := context.WithTimeout(ctx, opts.Duration)
	defer stop()

	// With a rate, a scheduler hands out intended send times.
	var schedule chan time.Time
	if opts.Rate > 0 {
		schedule = make(chan time.Time, opts.Senders*4)
		go func() {
			defer close(schedule)
			interval := time.Second / time.Duration(opts.Rate)
			next := time.Now()
			for {
				next = next.Add(interval)
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				select {
				case schedule <- next:
				case <-sendCtx.Done():
					return
				}
			}
		}()
	}

	if opts.CPUProfile != "" {
		f, err := os.Create(opts.CPUProfile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	header := opts.Out
	if opts.JSON {
		header = os.Stderr // keep stdout one JSON document
	}
	fmt.Fprintf(header, "hookd bench: %d senders, %d-byte bodies, %s, rate %s, %d destinations, store %s%s\n",
		opts.Senders, opts.BodySize, opts.Duration, rateText(opts.Rate), opts.Destinations, storeText(cfg.DatabaseURL), workersText(opts.WorkerProcesses))
	var replayed chan replayOutcome
	if phases != nil {
		fmt.Fprintf(header, "hookd bench: %d dead letters seeded; replay at %s after %s\n", opts.DeadLetters, replayRateText(opts.ReplayRate), opts.ReplayAfter)
		phases.warmUpEnd = time.Now().Add(time.Second).UnixNano()
		replayed = make(chan replayOutcome, 1)
		go func() {
			job, err := runReplay(sendCtx, replayAPI, phases, opts.ReplayAfter, opts.ReplayRate)
			replayed <- replayOutcome{job, err}
		}()
	}
	began := time.Now()
	var sendingDone atomic.Bool
	// Progress goes to stderr, so that stdout holds only the results.
	prog := startProgress(os.Stderr, opts.Duration, func() (int64, int64) { return accepted.Load(), delivered.Load() },
		func() bool { return !sendingDone.Load() }, func() int64 { return accepted.Load() * int64(opts.Destinations) })
	defer prog.stop()
	var wg sync.WaitGroup
	for range opts.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for sendCtx.Err() == nil {
				intended := time.Now()
				if schedule != nil {
					t, ok := <-schedule
					if !ok {
						return
					}
					intended = t
				}
				buf.Reset()
				n := seq.Add(1)
				fmt.Fprintf(&buf, `{"type":"bench.event","n":%d,"sent_ns":%d,"pad":"%s"}`, n, time.Now().UnixNano(), padding)
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(buf.Bytes()))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					errs.Add(1)
					continue
				}
				accepted.Add(1)
				ingest.add(time.Since(intended))
			}
		}()
	}
	wg.Wait()
	sendingDone.Store(true)
	sendElapsed := time.Since(began)
	if replayed != nil {
		out := <-replayed
		if out.err != nil {
			return res, fmt.Errorf("replay: %w", out.err)
		}
		phases.report(&res, out.job)
	}
	res.Accepted, res.Errors = accepted.Load(), errs.Load()
	res.IngestPerSec = float64(res.Accepted) / sendElapsed.Seconds()
	res.IngestP50Ms, res.IngestP99Ms = ingest.percentile(0.50), ingest.percentile(0.99)

	deliveryBegan := began
	if opts.DeferDelivery {
		deliveryBegan = time.Now()
		start := func() error { return a.StartDelivery(ctx) }
		if opts.WorkerProcesses > 0 {
			start = startWorkerProcesses
		}
		if err := start(); err != nil {
			return res, err
		}
	}
	expected := res.Accepted * int64(opts.Destinations)
	drainEnd := time.Now().Add(opts.Drain)
	for delivered.Load() < expected && time.Now().Before(drainEnd) && ctx.Err() == nil {
		if procs != nil {
			if err := procs.exited(); err != nil {
				return res, err
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	prog.stop()
	res.Delivered = delivered.Load()
	if phases != nil {
		res.ReplayedArrived = phases.arrived.Load()
	}
	res.Lost = expected - res.Delivered
	window := time.Duration(lastArrival.Load() - deliveryBegan.UnixNano())
	if window > 0 {
		res.DeliverPerSec = float64(res.Delivered) / window.Seconds()
		res.DeliveryWindow = window.Round(time.Millisecond).String()
	}
	if !opts.DeferDelivery { // held-back deliveries say nothing about latency
		res.EndToEndP50Ms, res.EndToEndP99Ms = e2e.percentile(0.50), e2e.percentile(0.99)
	}
	res.PeakRSSMiB = peakRSSMiB()
	var stopErr error // a worker process that failed or would not stop
	if procs != nil {
		res.WorkerPeakRSSMiB = procs.peakRSSMiB()
		stopErr = procs.stop()
	}

	var lostErr error
	if res.Lost > 0 {
		lostErr = fmt.Errorf("%d deliveries of accepted webhooks did not arrive within %s", res.Lost, opts.Drain)
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.Out)
		enc.SetIndent("", "  ")
		return res, errors.Join(enc.Encode(res), lostErr, stopErr)
	}
	fmt.Fprintf(opts.Out, "ingest:     %d accepted, %d errors, %.0f req/s, 202 latency p50 %.2f ms, p99 %.2f ms\n",
		res.Accepted, res.Errors, res.IngestPerSec, res.IngestP50Ms, res.IngestP99Ms)
	fmt.Fprintf(opts.Out, "delivery:   %d delivered in %s, %.0f deliveries/s%s\n", res.Delivered, res.DeliveryWindow, res.DeliverPerSec, drainNote(opts.DeferDelivery, opts.WorkerProcesses))
	if opts.DeferDelivery {
		fmt.Fprintf(opts.Out, "end-to-end: not measured (deliveries were held back until sending ended)\n")
	} else {
		fmt.Fprintf(opts.Out, "end-to-end: p50 %.2f ms, p99 %.2f ms (sent → arrived at the receiver)\n", res.EndToEndP50Ms, res.EndToEndP99Ms)
	}
	if phases != nil {
		phases.print(opts.Out, res)
	}
	if opts.WorkerProcesses > 0 {
		fmt.Fprintf(opts.Out, "peak RSS:   %.0f MiB (bench process only: hookd api, senders and receiver; largest of the %d worker processes: %.0f MiB), GOMAXPROCS %d\n",
			res.PeakRSSMiB, opts.WorkerProcesses, res.WorkerPeakRSSMiB, res.GoMaxProcs)
	} else {
		fmt.Fprintf(opts.Out, "peak RSS:   %.0f MiB (whole process: hookd, senders and receiver), GOMAXPROCS %d\n", res.PeakRSSMiB, res.GoMaxProcs)
	}
	return res, errors.Join(lostErr, stopErr)
}

// storeText names the store without credentials: a PostgreSQL or MongoDB
// URL by host(s) and database, SQLite by its file.
func storeText(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		// The MongoDB driver takes what net/url refuses, such as a
		// password with a bare %: drop the credentials and the options by
		// hand.
		scheme, rest, ok := strings.Cut(databaseURL, "://")
		if !ok || !strings.HasPrefix(scheme, "mongodb") {
			return "(unparsable URL)"
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		rest, _, _ = strings.Cut(rest, "?")
		return scheme + "://" + rest
	}
	if u.Scheme == "sqlite" {
		return strings.TrimPrefix(databaseURL, "sqlite://")
	}
	return u.Scheme + "://" + u.Host + u.Path
}

func drainNote(deferred bool, workerProcesses int) string {
	switch {
	case deferred && workerProcesses > 0:
		return " (draining the backlog from the start of the worker processes)"
	case deferred:
		return " (draining the backlog after sending ended)"
	}
	return " (from the first send to the last arrival)"
}

func workersText(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return ", delivered by 1 hookd worker process"
	}
	return fmt.Sprintf(", delivered by %d hookd worker processes", n)
}

func rateText(r int) string {
	if r <= 0 {
		return "unlimited"
	}
	return strconv.Itoa(r) + "/s"
}

// sentAt reads "sent_ns" from a bench body without a full JSON parse.
func sentAt(body []byte) int64 {
	const key = `"sent_ns":`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return 0
	}
	rest := body[i+len(key):]
	j := bytes.IndexAny(rest, ",}")
	if j < 0 {
		return 0
	}
	n, _ := strconv.ParseInt(string(rest[:j]), 10, 64)
	return n
}

// peakRSSMiB reads VmHWM from /proc/self/status (Linux); 0 elsewhere.
func peakRSSMiB() float64 { return peakRSSMiBOf("/proc/self/status") }

// peakRSSMiBOf reads VmHWM from a /proc/PID/status file; 0 when there is
// none.
func peakRSSMiBOf(path string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
