package api

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/queue"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Dead letters: counts by failure reason, and bulk replay as a paced
// background job (docs/delivery.md#dead-letters).
//
// A replay job lives in the process that serves the request that started
// it: a restart stops it. What it requeued stays requeued; the rest is
// still permanent_failure, so starting the same replay again picks up
// exactly the rest. Only one job runs at a time per process, so that its
// pace is the whole extra load a replay puts on delivery.
func (s *Server) deadLetterRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/dead-letters/reasons", Summary: "Count dead deliveries by failure reason, filtered by source, destination and received time", handler: s.deadReasons},
		{Method: "POST", Pattern: "/api/dead-letters/replays", Write: true, Summary: "Start a paced replay of the dead deliveries matching a filter and reason (dry_run counts only)", handler: s.startReplay},
		{Method: "GET", Pattern: "/api/dead-letters/replays", Summary: "Replay jobs of this process, newest first", handler: s.listReplays},
		{Method: "GET", Pattern: "/api/dead-letters/replays/{id}", Summary: "One replay job's progress", handler: s.getReplay},
		{Method: "DELETE", Pattern: "/api/dead-letters/replays/{id}", Write: true, Summary: "Cancel a running replay job; what it requeued stays requeued", handler: s.cancelReplay},
	}
}

// Replay pacing.
const (
	// DefaultReplayRate is the pace of a replay that names none: high
	// enough to clear 100,000 dead letters in under ten minutes, low
	// enough that a 2-core server keeps live traffic's latency (see
	// docs/benchmarks.md).
	DefaultReplayRate = 200
	// MaxReplayRate bounds rate: above it a replay is a flood, not a
	// replay.
	MaxReplayRate = 10000
	// maxReplayBatch bounds one transaction of a replay: on SQLite every
	// write waits for the one writer, which a batch of 100 holds for about
	// 7 ms on two cores, a batch of 500 for 39 ms (BenchmarkRequeueDeadBatch).
	maxReplayBatch = 50
	// replayBacklogPoll is how often a held replay looks at the queue.
	replayBacklogPoll = 200 * time.Millisecond
	// replayStuckAfter is how long a replay holds for a backlog that does
	// not shrink at all before it takes that backlog as stuck (an open
	// circuit, a rate limit) rather than delivery falling behind.
	replayStuckAfter = 10 * time.Second
	// keptReplays is how many finished jobs a process remembers.
	keptReplays = 20
)

// The states of a replay job.
const (
	ReplayRunning   = "running"
	ReplayDone      = "done"
	ReplayCancelled = "cancelled"
	ReplayFailed    = "failed"
)

// ReasonCountView is one failure reason's count.
type ReasonCountView struct {
	// Reason is empty for dead letters without a recorded reason.
	Reason webhook.FailureReason `json:"reason"`
	Count  int64                 `json:"count"`
}

// DeadReasonsResponse answers GET /api/dead-letters/reasons.
type DeadReasonsResponse struct {
	// Items are the reasons with at least one dead delivery, most first.
	Items []ReasonCountView `json:"items"`
	// Total counts every matching dead delivery.
	Total int64 `json:"total"`
}

// ReplayRequest starts a replay: which dead deliveries (every field
// optional; {} means all of them) and how fast.
type ReplayRequest struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// From and To bound the events' received time (RFC 3339), from
	// inclusive, to exclusive.
	From string `json:"from"`
	To   string `json:"to"`
	// Reason keeps only deliveries whose last attempt failed for it.
	Reason string `json:"reason"`
	// Rate is the pace in deliveries requeued per second; 0 means
	// DefaultReplayRate.
	Rate float64 `json:"rate"`
	// DryRun only counts the matching dead deliveries; no job starts.
	DryRun bool `json:"dry_run"`
}

// ReplayFilter is the selection a job replays.
type ReplayFilter struct {
	Source      string                `json:"source,omitempty"`
	Destination string                `json:"destination,omitempty"`
	From        *time.Time            `json:"from,omitempty"`
	To          *time.Time            `json:"to,omitempty"`
	Reason      webhook.FailureReason `json:"reason,omitempty"`
}

// ReplayJob is a replay job's progress.
type ReplayJob struct {
	ID     string       `json:"id"`
	State  string       `json:"state"`
	Filter ReplayFilter `json:"filter"`
	Rate   float64      `json:"rate"`
	// Matched counts the dead deliveries the filter selected when the job
	// started; deliveries that die later are not replayed by it.
	Matched int `json:"matched"`
	// Requeued counts those moved back to pending so far. It may end
	// lower than Matched when some were retried by other means meanwhile.
	Requeued int `json:"requeued"`
	// Remaining is Matched less Requeued while the job runs, and what a
	// cancelled or failed job left dead; 0 once done.
	Remaining int `json:"remaining"`
	// HeldSeconds is how long the job waited because delivery was behind
	// (due deliveries piling up): the pace is an upper bound.
	HeldSeconds float64    `json:"held_seconds"`
	Error       string     `json:"error,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
}

// ReplayDryRunResponse answers a dry run.
type ReplayDryRunResponse struct {
	Matched int     `json:"matched"`
	Rate    float64 `json:"rate"`
	// EstimatedSeconds is how long the replay would take at Rate.
	EstimatedSeconds float64 `json:"estimated_seconds"`
	DryRun           bool    `json:"dry_run"`
}

// ReplayList answers GET /api/dead-letters/replays.
type ReplayList struct {
	Items []ReplayJob `json:"items"`
}

// replays holds this process's replay jobs.
type replays struct {
	mu      sync.Mutex
	jobs    []*replayJob // oldest first
	base    context.Context
	stopAll context.CancelFunc
	wg      sync.WaitGroup
}

func newReplays() *replays {
	base, stop := context.WithCancel(context.Background())
	return &replays{base: base, stopAll: stop}
}

// replayJob is one job; view is guarded by replays.mu.
type replayJob struct {
	view   ReplayJob
	params store.DeliveryRequeueDeadParams
	cancel context.CancelFunc
	done   chan struct{}
}

// Stop cancels every running replay job and waits for them to end. What
// they requeued stays requeued. The server takes no new job afterwards.
func (s *Server) Stop() {
	s.replays.stopAll()
	s.replays.wg.Wait()
}

// deadFilter reads the filter fields shared by the reasons count and
// replay.
func deadFilter(source, destination, from, to string) (store.DeliveryRequeueDeadParams, error) {
	p := store.DeliveryRequeueDeadParams{Source: source, Destination: destination}
	if source != "" {
		if err := catalog.ValidateName(source); err != nil {
			return p, invalid("source", "%q is not a source name", source)
		}
	}
	if destination != "" {
		if err := catalog.ValidateName(destination); err != nil {
			return p, invalid("destination", "%q is not a destination name", destination)
		}
	}
	for _, f := range []struct {
		name, value string
		dst         *time.Time
	}{{"from", from, &p.From}, {"to", to, &p.To}} {
		if f.value == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.value)
		if err != nil {
			return p, invalid(f.name, "%q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", f.value)
		}
		*f.dst = t
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.From.Before(p.To) {
		return p, invalid("to", "must be after from")
	}
	return p, nil
}

func (s *Server) deadReasons(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for name := range q {
		switch name {
		case "source", "destination", "from", "to":
		default:
			return invalid(name, "unknown parameter (source, destination, from and to filter)")
		}
	}
	p, err := deadFilter(q.Get("source"), q.Get("destination"), q.Get("from"), q.Get("to"))
	if err != nil {
		return err
	}
	counts, err := s.opts.Store.DeliveryCountDeadByReason(r.Context(), store.DeliveryCountDeadParams{
		Source: p.Source, Destination: p.Destination, From: p.From, To: p.To,
	})
	if err != nil {
		return err
	}
	out := DeadReasonsResponse{Items: make([]ReasonCountView, 0, len(counts))}
	for _, c := range counts {
		out.Items = append(out.Items, ReasonCountView{Reason: c.Reason, Count: c.Count})
		out.Total += c.Count
	}
	slices.SortStableFunc(out.Items, func(a, b ReasonCountView) int { return cmp.Compare(b.Count, a.Count) })
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) startReplay(w http.ResponseWriter, r *http.Request) error {
	var req ReplayRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p, err := deadFilter(req.Source, req.Destination, req.From, req.To)
	if err != nil {
		return err
	}
	if req.Reason != "" {
		if p.Reason, err = webhook.ParseFailureReason(req.Reason); err != nil {
			return invalid("reason", "%q is not a failure reason (see GET /api/dead-letters/reasons)", req.Reason)
		}
	}
	rate := req.Rate
	switch {
	case rate == 0:
		rate = DefaultReplayRate
	case rate < 0 || rate > MaxReplayRate:
		return invalid("rate", "must be more than 0 and at most %d deliveries per second", MaxReplayRate)
	}
	ctx := r.Context()
	now := s.opts.Now().UTC()
	p.DeadBefore, p.Now, p.DryRun = now, now, true
	matched, err := s.opts.Store.DeliveryRequeueDead(ctx, p)
	if err != nil {
		return err
	}
	if req.DryRun {
		httpx.WriteJSON(w, http.StatusOK, ReplayDryRunResponse{
			Matched: matched, Rate: rate, EstimatedSeconds: float64(matched) / rate, DryRun: true,
		})
		return nil
	}
	p.DryRun = false
	job := &replayJob{
		params: p,
		done:   make(chan struct{}),
		view: ReplayJob{
			ID: ids.New("rpl_"), State: ReplayRunning, Rate: rate, Matched: matched, Remaining: matched, StartedAt: now,
			Filter: ReplayFilter{Source: p.Source, Destination: p.Destination, Reason: p.Reason},
		},
	}
	if !p.From.IsZero() {
		job.view.Filter.From = &p.From
	}
	if !p.To.IsZero() {
		job.view.Filter.To = &p.To
	}
	rs := s.replays
	rs.mu.Lock()
	if rs.base.Err() != nil {
		rs.mu.Unlock()
		return webhook.ErrClosed
	}
	for _, j := range rs.jobs {
		if j.view.State == ReplayRunning {
			rs.mu.Unlock()
			return fmt.Errorf("%w: replay %s is running; cancel it or wait for it to finish", webhook.ErrConflict, j.view.ID)
		}
	}
	jobCtx, cancel := context.WithCancel(rs.base)
	job.cancel = cancel
	rs.jobs = append(rs.jobs, job)
	if finished := len(rs.jobs) - 1; finished > keptReplays {
		rs.jobs = slices.Delete(rs.jobs, 0, finished-keptReplays)
	}
	rs.wg.Add(1)
	view := job.view
	rs.mu.Unlock()
	go func() {
		defer rs.wg.Done()
		defer cancel()
		s.runReplay(jobCtx, job)
	}()
	s.log.Info("replay started", "replay", view.ID, "matched", matched, "rate", rate,
		"source", p.Source, "destination", p.Destination, "reason", p.Reason)
	httpx.WriteJSON(w, http.StatusAccepted, view)
	return nil
}

// replayBatch is how many deliveries one step of a replay at rate moves:
// about twenty steps a second, so the pace is smooth and each transaction
// short.
func replayBatch(rate float64) int {
	return min(max(int(rate/20), 1), maxReplayBatch)
}

// runReplay requeues the job's dead deliveries page by page, the k-th
// delivery no sooner than k/rate seconds after the start, until none is
// left, the job is cancelled or the store fails several times running.
func (s *Server) runReplay(ctx context.Context, job *replayJob) {
	defer close(job.done)
	rs := s.replays
	rs.mu.Lock()
	p, rate := job.params, job.view.Rate
	rs.mu.Unlock()
	batch := replayBatch(rate)
	start := time.Now()
	requeued, failures := 0, 0
	backlog := backlogGuard{slack: int64(max(2*batch, 100)), poll: replayBacklogPoll, stuckAfter: replayStuckAfter}
	finish := func(state string, err error) {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		job.view.State = state
		at := s.opts.Now().UTC()
		job.view.FinishedAt = &at
		if state == ReplayDone {
			job.view.Remaining = 0
		}
		if err != nil {
			job.view.Error = err.Error()
		}
		s.log.Info("replay finished", "replay", job.view.ID, "state", state, "requeued", job.view.Requeued, "err", err)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		// Wait for this batch's turn: requeued so far, at rate, from start.
		due := start.Add(time.Duration(float64(requeued) / rate * float64(time.Second)))
		timer.Reset(max(time.Until(due), 0))
		select {
		case <-ctx.Done():
			finish(ReplayCancelled, nil)
			return
		case <-timer.C:
		}
		held, err := s.holdForBacklog(ctx, &backlog)
		if ctx.Err() != nil {
			finish(ReplayCancelled, nil)
			return
		}
		if err != nil {
			s.log.Warn("replay could not read the queue; going on at its pace", "replay", job.view.ID, "err", err)
		}
		if held > 0 {
			start = start.Add(held) // resume at the pace, not in a burst
			rs.mu.Lock()
			job.view.HeldSeconds += held.Seconds()
			rs.mu.Unlock()
		}
		p.Limit, p.Now = batch, s.opts.Now().UTC()
		moved, err := s.opts.Store.DeliveryRequeueDeadBatch(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				finish(ReplayCancelled, nil)
				return
			}
			if failures++; failures >= 5 {
				finish(ReplayFailed, err)
				return
			}
			s.log.Warn("replay batch failed; trying again", "replay", job.view.ID, "err", err)
			start = start.Add(time.Duration(failures) * time.Second) // back off, keep the pace after
			continue
		}
		failures = 0
		if len(moved) == 0 {
			finish(ReplayDone, nil)
			return
		}
		items := make([]queue.Item, len(moved))
		for i, d := range moved {
			items[i] = queue.Item{DeliveryID: d.ID, Destination: d.Destination, DueAt: d.NextAttemptAt}
		}
		s.notify(context.WithoutCancel(ctx), items)
		p.After = moved[len(moved)-1].ID
		requeued += len(moved)
		rs.mu.Lock()
		job.view.Requeued = requeued
		job.view.Remaining = max(job.view.Matched-requeued, 0)
		rs.mu.Unlock()
	}
}

// backlogGuard holds a replay back while delivery is behind: while more
// deliveries are due and unclaimed (QueueStats.Ready) than when the
// replay started, plus slack. A pace that a quiet server absorbs easily
// can still be too much for one that is busy; live deliveries must not
// queue behind replayed ones.
type backlogGuard struct {
	// baseline is the backlog taken as normal: due deliveries held back
	// by open circuits or rate limits, which no replay makes worse.
	baseline    int64
	initialized bool
	slack       int64
	// checked is when the queue was last read: it is read at most every
	// poll, not at every batch.
	checked time.Time
	// poll and stuckAfter are replayBacklogPoll and replayStuckAfter
	// (shorter in tests).
	poll, stuckAfter time.Duration
}

// holdForBacklog waits while the backlog is over the guard's bound, and
// returns how long it waited. A backlog that has not shrunk at all for
// stuckAfter is not delivery falling behind but work that waits by
// design (a destination's circuit is open): it becomes the new baseline
// and the replay goes on.
func (s *Server) holdForBacklog(ctx context.Context, g *backlogGuard) (time.Duration, error) {
	began := time.Now()
	if g.initialized && began.Sub(g.checked) < g.poll {
		return 0, nil
	}
	var (
		lowest     int64 = -1
		lowestAt         = began
		ticker           = time.NewTicker(g.poll)
		stats, err       = s.opts.Store.QueueStats(ctx, s.opts.Now())
	)
	defer ticker.Stop()
	for {
		if err != nil {
			return time.Since(began), err
		}
		g.checked = time.Now()
		if !g.initialized {
			g.baseline, g.initialized = stats.Ready, true
		}
		if stats.Ready <= g.baseline+g.slack {
			return time.Since(began), nil
		}
		if lowest < 0 || stats.Ready < lowest {
			lowest, lowestAt = stats.Ready, time.Now()
		} else if time.Since(lowestAt) >= g.stuckAfter {
			g.baseline = stats.Ready
			return time.Since(began), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(began), ctx.Err()
		case <-ticker.C:
		}
		stats, err = s.opts.Store.QueueStats(ctx, s.opts.Now())
	}
}

// replay finds a job by the path's id.
func (s *Server) replay(r *http.Request) (*replayJob, error) {
	id := r.PathValue("id")
	rs := s.replays
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, j := range rs.jobs {
		if j.view.ID == id {
			return j, nil
		}
	}
	return nil, fmt.Errorf("replay %q (jobs live in the process that started them, until it restarts): %w", id, webhook.ErrNotFound)
}

func (s *Server) viewOf(j *replayJob) ReplayJob {
	s.replays.mu.Lock()
	defer s.replays.mu.Unlock()
	return j.view
}

func (s *Server) listReplays(w http.ResponseWriter, r *http.Request) error {
	rs := s.replays
	rs.mu.Lock()
	out := ReplayList{Items: make([]ReplayJob, 0, len(rs.jobs))}
	for i := len(rs.jobs) - 1; i >= 0; i-- {
		out.Items = append(out.Items, rs.jobs[i].view)
	}
	rs.mu.Unlock()
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getReplay(w http.ResponseWriter, r *http.Request) error {
	j, err := s.replay(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, s.viewOf(j))
	return nil
}

// cancelReplay stops a running job and answers once it has stopped, with
// its final progress; a finished job is answered as it is.
func (s *Server) cancelReplay(w http.ResponseWriter, r *http.Request) error {
	j, err := s.replay(r)
	if err != nil {
		return err
	}
	j.cancel()
	select {
	case <-j.done:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	httpx.WriteJSON(w, http.StatusOK, s.viewOf(j))
	return nil
}
