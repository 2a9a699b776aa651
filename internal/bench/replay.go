package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// A bench run with --dead-letters measures what a bulk replay costs live
// traffic: it seeds that many dead letters (to a destination of their
// own, on the same receiver), sends live traffic at --rate, and after
// --replay-after starts a replay of them all at --replay-rate through the
// API, as an operator would. Live end-to-end latency is reported apart for
// webhooks sent before the replay started (quiet) and while it ran.

// Names of the replay's own source and destination: live traffic never
// reaches them, and their arrivals are not counted as live deliveries.
const (
	replaySource      = "bench-archive"
	replayDestination = "bench-replayed"
)

// replayPhases sorts live latency samples by when they were sent.
type replayPhases struct {
	warmUpEnd   int64 // unix ns; samples sent before it are not counted
	start, end  atomic.Int64
	quiet, with latencies
	arrived     atomic.Int64 // replayed deliveries that arrived
}

// sample files one live delivery's latency under the phase it was sent in.
func (p *replayPhases) sample(sentNs int64, d time.Duration) {
	start, end := p.start.Load(), p.end.Load()
	switch {
	case sentNs < p.warmUpEnd:
	case start == 0 || sentNs < start:
		p.quiet.add(d)
	case end == 0 || sentNs < end:
		p.with.add(d)
	}
}

// seedDeadLetters stores n events of replaySource, each with one delivery
// to replayDestination that died a minute ago of an HTTP 503, in batches.
func seedDeadLetters(ctx context.Context, st store.Store, n int) error {
	dead := time.Now().UTC().Add(-time.Minute)
	const batch = 1000
	for done := 0; done < n; done += batch {
		records := make([]store.EventRecord, min(batch, n-done))
		for i := range records {
			ev := webhook.Event{ID: ids.New(ids.Event), Source: replaySource, Type: "bench.replayed",
				Body: []byte(`{"type":"bench.replayed"}`), ContentType: "application/json",
				ReceivedAt: dead.Add(-time.Second), Status: webhook.StatusPermanentFailure}
			d := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: replayDestination,
				Status: webhook.StatusPermanentFailure, Attempts: 1, NextAttemptAt: dead, LastError: "HTTP 503",
				LastReason: webhook.ReasonHTTP5xx, CreatedAt: ev.ReceivedAt, UpdatedAt: dead}
			a := webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: d.ID, Number: 1, StartedAt: dead,
				Duration: time.Millisecond, StatusCode: 503, Error: "HTTP 503", Reason: webhook.ReasonHTTP5xx}
			records[i] = store.EventRecord{Event: ev, Deliveries: []store.DeliveryRecord{{Delivery: d, Attempts: []webhook.Attempt{a}}}}
		}
		if _, err := st.EventImportMany(ctx, records); err != nil {
			return fmt.Errorf("seed dead letters: %w", err)
		}
	}
	return nil
}

// adminPassword returns a random password for the bench's own admin.
func adminPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// replayJob is the part of the API's replay job the bench reads.
type replayJob struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	Matched    int        `json:"matched"`
	Requeued   int        `json:"requeued"`
	HeldSecs   float64    `json:"held_seconds"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// apiClient calls the in-process hookd's management API as its admin.
type apiClient struct {
	base   string
	client *http.Client
	token  string
}

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, out)
}

func (c *apiClient) login(ctx context.Context, password string) error {
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/auth/login", map[string]string{"username": "admin", "password": password}, &out); err != nil {
		return err
	}
	c.token = out.Token
	return nil
}

// runReplay waits until after, starts the replay of every dead letter at
// rate, and follows it until it finishes or ctx ends (sending stopped),
// then cancels it if it still runs. It returns the job as it ended.
func runReplay(ctx context.Context, c *apiClient, phases *replayPhases, after time.Duration, rate float64) (replayJob, error) {
	var job replayJob
	select {
	case <-ctx.Done():
		return job, nil
	case <-time.After(after):
	}
	started := time.Now()
	phases.start.Store(started.UnixNano())
	stop := context.WithoutCancel(ctx)
	if err := c.do(stop, http.MethodPost, "/api/dead-letters/replays", map[string]any{"rate": rate}, &job); err != nil {
		phases.end.Store(time.Now().UnixNano())
		return job, err
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for job.State == "running" {
		select {
		case <-ctx.Done():
			phases.end.Store(time.Now().UnixNano())
			err := c.do(stop, http.MethodDelete, "/api/dead-letters/replays/"+job.ID, nil, &job)
			return job, err
		case <-tick.C:
		}
		if err := c.do(stop, http.MethodGet, "/api/dead-letters/replays/"+job.ID, nil, &job); err != nil {
			phases.end.Store(time.Now().UnixNano())
			return job, err
		}
	}
	end := time.Now()
	if job.FinishedAt != nil {
		end = *job.FinishedAt
	}
	phases.end.Store(end.UnixNano())
	return job, nil
}

// replayOutcome is what runReplay returned.
type replayOutcome struct {
	job replayJob
	err error
}

// report adds the replay's figures to res.
func (p *replayPhases) report(res *Result, job replayJob) {
	res.ReplayState, res.Replayed, res.ReplayedArrived = job.State, job.Requeued, p.arrived.Load()
	res.ReplayHeldSeconds = job.HeldSecs
	if start, end := p.start.Load(), p.end.Load(); start > 0 && end > start {
		res.ReplaySeconds = time.Duration(end - start).Seconds()
	}
	res.QuietE2EP50Ms, res.QuietE2EP99Ms = p.quiet.percentile(0.50), p.quiet.percentile(0.99)
	res.ReplayE2EP50Ms, res.ReplayE2EP99Ms = p.with.percentile(0.50), p.with.percentile(0.99)
	res.QuietSamples, res.ReplaySamples = p.quiet.count(), p.with.count()
	if res.QuietE2EP99Ms > 0 {
		res.ReplayP99Ratio = res.ReplayE2EP99Ms / res.QuietE2EP99Ms
	}
}

// print writes the replay's lines of the text report. Replayed arrivals
// are counted until the drain of the live deliveries ends.
func (p *replayPhases) print(w io.Writer, res Result) {
	res.ReplayedArrived = p.arrived.Load()
	fmt.Fprintf(w, "replay:     %d of %d dead letters requeued in %.1f s at %s (%s; held back %.1f s while delivery was behind), %d arrived\n",
		res.Replayed, res.DeadLetters, res.ReplaySeconds, replayRateText(res.ReplayRate), res.ReplayState, res.ReplayHeldSeconds, res.ReplayedArrived)
	fmt.Fprintf(w, "live e2e:   quiet p50 %.2f ms, p99 %.2f ms (%d); during the replay p50 %.2f ms, p99 %.2f ms (%d); p99 ratio %.2f\n",
		res.QuietE2EP50Ms, res.QuietE2EP99Ms, res.QuietSamples, res.ReplayE2EP50Ms, res.ReplayE2EP99Ms, res.ReplaySamples, res.ReplayP99Ratio)
}

func replayRateText(rate float64) string {
	if rate <= 0 {
		return "the default pace (200/s)"
	}
	return fmt.Sprintf("%g/s", rate)
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}
