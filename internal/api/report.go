package api

import (
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/report"
	"github.com/hookd/hookd/internal/stats"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// GET /api/webhooks/export is a literal pattern, so Go's ServeMux prefers
// it to GET /api/webhooks/{id} for the path /api/webhooks/export (the more
// specific pattern wins), whatever the registration order.
func (s *Server) reportRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/webhooks/export", Summary: "Export the filtered events: CSV (every row, streamed) or a printable PDF (capped)", handler: s.export},
		{Method: "GET", Pattern: "/api/stats", Summary: "Counts by status and source, and deliveries/s and latency over time buckets", handler: s.getStats},
	}
}

// Stats is this process's in-memory traffic history (*stats.Collector).
type Stats interface {
	Snapshot(window time.Duration, now time.Time) stats.Series
	Destination(name string) (stats.DestinationHealth, bool)
}

// exportPage is how many events an export reads from the store at a time:
// memory stays flat however many rows the export has.
const exportPage = 500

// exportWriteTimeout bounds the writing of each page of an export; it is
// reset page by page, so that a long export is not cut by the server's
// overall write timeout while a stalled client still is.
const exportWriteTimeout = 60 * time.Second

func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := s.eventFilter(q)
	if err != nil {
		return err
	}
	for _, name := range []string{"page", "limit", "cursor"} {
		if q.Has(name) {
			return invalid(name, "not used by export, which returns every matching event")
		}
	}
	format := q.Get("format")
	switch format {
	case "":
		format = "csv"
	case "csv", "pdf":
	default:
		return invalid("format", "%q is not csv or pdf", format)
	}
	p.Limit, p.NoTotal = exportPage, true
	now := s.opts.Now().UTC()
	filename := "hookd-events-" + now.Format("20060102T150405Z") + "." + format
	if format == "pdf" {
		return s.exportPDF(w, r, p, describeFilters(q), filename, now)
	}
	return s.exportCSV(w, r, p, filename)
}

// exportCSV streams every matching event, newest first, a page at a time
// by keyset (Before), flushing each page to the client. Events received
// after the export began are not included (they are newer than its first
// page).
func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request, p store.EventListParams, filename string) error {
	ctx := r.Context()
	// The first page is read before anything is written, so that a failing
	// store still gets a proper error status.
	res, err := s.opts.Store.EventList(ctx, p)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	cw := report.NewCSVWriter(w)
	rows := 0
	for {
		_ = rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout))
		for _, e := range res.Items {
			if err := cw.Write(exportRow(e)); err != nil {
				s.log.Debug("export: client went away", "rows", rows, "err", err)
				return nil
			}
			rows++
		}
		if err := cw.Flush(); err != nil {
			s.log.Debug("export: client went away", "rows", rows, "err", err)
			return nil
		}
		_ = rc.Flush()
		if len(res.Items) < p.Limit {
			return nil
		}
		p.Before = res.Items[len(res.Items)-1].ID
		if res, err = s.opts.Store.EventList(ctx, p); err != nil {
			if ctx.Err() != nil {
				return nil // the client went away
			}
			// The 200 is gone: cut the response off so that the client sees
			// a broken transfer instead of a complete-looking, short file.
			s.log.Error("export: store failed mid-stream; aborting the response", "rows", rows, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// exportPDF renders the report (report.PDF caps its rows) and writes it
// once complete, so that an error still gets a proper status.
func (s *Server) exportPDF(w http.ResponseWriter, r *http.Request, p store.EventListParams, filters, filename string, now time.Time) error {
	out := &firstWrite{w: w, before: func() {
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout))
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
		w.Header().Set("Cache-Control", "no-store")
	}}
	err := report.PDF{Title: "hookd events", Filters: filters, GeneratedAt: now}.Write(out, s.exportRows(r, p))
	if err != nil && !out.wrote {
		return err
	}
	if err != nil {
		s.log.Debug("export: PDF write failed", "err", err)
	}
	return nil
}

// exportRows yields every event matching p, a page at a time; the consumer
// may stop early.
func (s *Server) exportRows(r *http.Request, p store.EventListParams) iter.Seq2[report.Row, error] {
	return func(yield func(report.Row, error) bool) {
		for {
			res, err := s.opts.Store.EventList(r.Context(), p)
			if err != nil {
				yield(report.Row{}, err)
				return
			}
			for _, e := range res.Items {
				if !yield(exportRow(e), nil) {
					return
				}
			}
			if len(res.Items) < p.Limit {
				return
			}
			p.Before = res.Items[len(res.Items)-1].ID
		}
	}
}

func exportRow(e webhook.EventSummary) report.Row {
	return report.Row{
		ID: e.ID, Source: e.Source, Type: e.Type, Status: e.Status, ReceivedAt: e.ReceivedAt,
		Deliveries: e.Deliveries, Attempts: e.Attempts, LastError: e.LastError,
	}
}

// describeFilters prints the filters of an export for its reader, such as
// "source=github, status=failed".
func describeFilters(q url.Values) string {
	var parts []string
	for name, values := range q {
		if name == "format" {
			continue
		}
		for _, v := range values {
			parts = append(parts, name+"="+v)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// firstWrite calls before once, just ahead of the first byte written.
type firstWrite struct {
	w      http.ResponseWriter
	before func()
	wrote  bool
}

func (f *firstWrite) Write(p []byte) (int, error) {
	if !f.wrote {
		f.wrote = true
		f.before()
	}
	return f.w.Write(p)
}

// statsWindows are the windows GET /api/stats accepts.
var statsWindows = map[string]time.Duration{
	"5m": 5 * time.Minute, "15m": 15 * time.Minute, "1h": time.Hour, "6h": 6 * time.Hour, "24h": 24 * time.Hour,
}

// StatsResponse is the answer of GET /api/stats.
type StatsResponse struct {
	Window string `json:"window"`
	// Bucket is the width of each bucket, such as "1m".
	Bucket string `json:"bucket"`
	// Since is when this process started counting: the buckets hold only
	// what this process did since then (they are kept in memory).
	Since time.Time `json:"since"`
	// CountsByStatus and CountsBySource count every stored event, all time,
	// by its current status.
	CountsByStatus map[webhook.Status]int64            `json:"counts_by_status"`
	CountsBySource map[string]map[webhook.Status]int64 `json:"counts_by_source"`
	Buckets        []StatsBucket                       `json:"buckets"`
	Queue          store.QueueStats                    `json:"queue"`
}

// StatsBucket is one interval of the time series.
type StatsBucket struct {
	Start time.Time `json:"start"`
	// Events counts events received.
	Events int64 `json:"events"`
	// Deliveries counts delivery attempts that finished; Successes got a
	// 2xx, Failures did not, Dead of them exhausted their retries.
	Deliveries int64 `json:"deliveries"`
	Successes  int64 `json:"successes"`
	Failures   int64 `json:"failures"`
	Dead       int64 `json:"dead"`
	// DeliveriesPerSec is Deliveries over the bucket's width, or over the
	// part of it elapsed for the last bucket.
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	// Latency percentiles of the attempts, null when there were none.
	LatencyP50Ms *float64 `json:"latency_p50_ms"`
	LatencyP99Ms *float64 `json:"latency_p99_ms"`
	// The queue's deepest sample in the bucket (sampled from the store
	// every 5 s, the three numbers from one moment), as in Queue; null
	// when none was taken (before this process started).
	QueueLength      *int64 `json:"queue_length"`
	ScheduledRetries *int64 `json:"scheduled_retries"`
	InFlight         *int64 `json:"in_flight"`
}

var allStatuses = []webhook.Status{webhook.StatusPending, webhook.StatusSuccess, webhook.StatusFailed, webhook.StatusPermanentFailure}

func zeroCounts() map[webhook.Status]int64 {
	m := make(map[webhook.Status]int64, len(allStatuses))
	for _, st := range allStatuses {
		m[st] = 0
	}
	return m
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for name := range q {
		if name != "window" {
			return invalid(name, "unknown parameter (stats takes window)")
		}
	}
	name := q.Get("window")
	if name == "" {
		name = "1h"
	}
	window, ok := statsWindows[name]
	if !ok {
		return invalid("window", "%q is not one of 5m, 15m, 1h, 6h, 24h", name)
	}
	ctx := r.Context()
	now := s.opts.Now()
	counts, err := s.opts.Store.EventCountBySource(ctx)
	if err != nil {
		return err
	}
	queue, err := s.opts.Store.QueueStats(ctx, now)
	if err != nil {
		return err
	}
	out := StatsResponse{Window: name, CountsByStatus: zeroCounts(), CountsBySource: map[string]map[webhook.Status]int64{}, Queue: queue}
	for _, c := range counts {
		by := out.CountsBySource[c.Source]
		if by == nil {
			by = zeroCounts()
			out.CountsBySource[c.Source] = by
		}
		for st, n := range c.Counts {
			by[st] += n
			out.CountsByStatus[st] += n
		}
	}
	series := stats.Series{Window: window, Bucket: stats.BucketWidth(window)}
	if s.opts.Stats != nil {
		series = s.opts.Stats.Snapshot(window, now)
	}
	out.Bucket, out.Since = shortDuration(series.Bucket), series.Since.UTC()
	out.Buckets = make([]StatsBucket, 0, len(series.Buckets))
	for _, b := range series.Buckets {
		sb := StatsBucket{
			Start: b.Start, Events: b.Events, Deliveries: b.Attempts, Successes: b.Successes, Failures: b.Failures, Dead: b.Dead,
		}
		span := min(series.Bucket, now.Sub(b.Start))
		if span < time.Second {
			span = time.Second
		}
		sb.DeliveriesPerSec = float64(b.Attempts) / span.Seconds()
		if b.Attempts > 0 {
			p50, p99 := millis(b.LatencyP50), millis(b.LatencyP99)
			sb.LatencyP50Ms, sb.LatencyP99Ms = &p50, &p99
		}
		if q := b.Queue; q != nil {
			sb.QueueLength, sb.ScheduledRetries, sb.InFlight = &q.Ready, &q.Scheduled, &q.InFlight
		}
		out.Buckets = append(out.Buckets, sb)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// millis returns d in milliseconds with microsecond precision.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// shortDuration prints whole minutes as "6m" and the rest as seconds,
// instead of Go's "6m0s".
func shortDuration(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
