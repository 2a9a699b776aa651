package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// The data set of TestEventsAtScale: n events, in thirds.
//
//	i%3 == 0  stripe charge.succeeded   → destination "down" (503): permanent_failure
//	i%3 == 1  stripe customer.created   → no destination: success
//	i%3 == 2  github push               → destination "ok" (200): success
const scaleEvents = 2400

func scaleBody(i int) (source string, body []byte) {
	types := []string{"charge.succeeded", "customer.created", "push"}
	source = "stripe"
	if i%3 == 2 {
		source = "github"
	}
	return source, fmt.Appendf(nil, `{"type":%q,"ref":"order-%05d"}`, types[i%3], i)
}

// eventPage is GET /api/webhooks's answer.
type eventPage struct {
	Items      []api.EventView `json:"items"`
	Page       int             `json:"page"`
	Limit      int             `json:"limit"`
	Total      int64           `json:"total"`
	NextCursor string          `json:"next_cursor"`
}

// TestEventsAtScale ingests a few thousand events concurrently through
// POST /webhook/{source}, lets them be delivered, and then checks on the
// same data: every filter of GET /api/webhooks, offset and keyset paging
// and their bad input, the CSV and PDF exports, and the statistics.
func TestEventsAtScale(t *testing.T) {
	t.Parallel()
	ok := startReceiver(t, receiver.Always(http.StatusOK))
	down := startReceiver(t, receiver.Always(http.StatusServiceUnavailable))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github"), source("stripe")}
		downDest := destination("down", down.URL(), "stripe")
		downDest.EventTypes = []string{"charge.*"}
		cfg.Destinations = []webhook.Destination{destination("ok", ok.URL(), "github"), downDest}
	}, nil)
	token := ta.viewer(t) // everything here is reading

	idByRef := make([]string, scaleEvents)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				src, body := scaleBody(i)
				resp, err := ta.client.Post(ta.base+"/webhook/"+src, "application/json", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var id string
				if _, err := fmt.Sscanf(string(raw), `{"id":%q`, &id); err != nil || resp.StatusCode != http.StatusAccepted {
					errs <- fmt.Errorf("event %d: %d %s", i, resp.StatusCode, raw)
					return
				}
				idByRef[i] = id
			}
		})
	}
	for i := range scaleEvents {
		select {
		case next <- i:
		case err := <-errs:
			close(next)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	waitFor(t, "every delivery to finish", func() bool {
		p := get[eventPage](t, ta, "/api/webhooks?status=pending&limit=1", token)
		f := get[eventPage](t, ta, "/api/webhooks?status=failed&limit=1", token)
		return p.Total == 0 && f.Total == 0
	})

	// Every event, newest first, by keyset; offset pages must agree.
	var all []api.EventView
	cursor, pages := "", 0
	for {
		p := get[eventPage](t, ta, "/api/webhooks?limit=200&cursor="+cursor, token)
		pages++
		if pages == 2 {
			offset := get[eventPage](t, ta, "/api/webhooks?limit=200&page=2", token)
			if len(offset.Items) != 200 || offset.Items[0].ID != p.Items[0].ID || offset.Items[199].ID != p.Items[199].ID {
				t.Errorf("page=2 and the second keyset page differ")
			}
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
		if pages > scaleEvents/200+1 {
			t.Fatal("keyset paging does not end")
		}
	}
	if len(all) != scaleEvents || pages != scaleEvents/200 {
		t.Fatalf("keyset paging gave %d events in %d pages, want %d in %d", len(all), pages, scaleEvents, scaleEvents/200)
	}
	if !slices.IsSortedFunc(all, func(a, b api.EventView) int { return strings.Compare(b.ID, a.ID) }) || len(slices.CompactFunc(slices.Clone(all), func(a, b api.EventView) bool { return a.ID == b.ID })) != scaleEvents {
		t.Fatal("keyset pages are not newest first without repeats")
	}

	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		n := int64(scaleEvents / 3)
		from, to := all[1700].ReceivedAt, all[300].ReceivedAt
		var inRange int64
		for _, e := range all {
			if !e.ReceivedAt.Before(from) && e.ReceivedAt.Before(to) {
				inRange++
			}
		}
		tests := []struct {
			query string
			total int64
			match func(api.EventView) bool
		}{
			{"", 3 * n, nil},
			{"status=success", 2 * n, func(e api.EventView) bool { return e.Status == webhook.StatusSuccess }},
			{"status=permanent_failure", n, func(e api.EventView) bool { return e.Status == webhook.StatusPermanentFailure && e.LastError != "" }},
			{"status=pending", 0, nil},
			{"source=stripe", 2 * n, func(e api.EventView) bool { return e.Source == "stripe" }},
			{"source=github", n, func(e api.EventView) bool { return e.Source == "github" && e.Deliveries == 1 }},
			{"source=nosuch", 0, nil},
			{"destination=down", n, func(e api.EventView) bool { return e.Type == "charge.succeeded" }},
			{"destination=ok", n, func(e api.EventView) bool { return e.Type == "push" }},
			{"type=push", n, func(e api.EventView) bool { return e.Type == "push" }},
			{"type=customer.created", n, func(e api.EventView) bool { return e.Deliveries == 0 }},
			{"source=stripe&status=success", n, func(e api.EventView) bool { return e.Type == "customer.created" }},
			{"q=order-00017", 1, func(e api.EventView) bool { return e.ID == idByRef[17] }},
			{"q=" + idByRef[42], 1, func(e api.EventView) bool { return e.ID == idByRef[42] }},
			{"from=" + url.QueryEscape(from.Format(time.RFC3339Nano)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339Nano)), inRange,
				func(e api.EventView) bool { return !e.ReceivedAt.Before(from) && e.ReceivedAt.Before(to) }},
		}
		for _, tt := range tests {
			p := get[eventPage](t, ta, "/api/webhooks?limit=200&"+tt.query, token)
			if p.Total != tt.total || int64(len(p.Items)) != min(tt.total, 200) {
				t.Errorf("%s: total %d with %d items, want %d", tt.query, p.Total, len(p.Items), tt.total)
			}
			for _, e := range p.Items {
				if tt.match != nil && !tt.match(e) {
					t.Errorf("%s: item %+v does not match", tt.query, e)
					break
				}
			}
		}
	})

	t.Run("paging", func(t *testing.T) {
		t.Parallel()
		p := get[eventPage](t, ta, "/api/webhooks", token)
		if p.Page != 1 || p.Limit != api.DefaultLimit || len(p.Items) != api.DefaultLimit || p.Total != scaleEvents || p.NextCursor != all[19].ID {
			t.Errorf("defaults: page %d limit %d items %d total %d next %q", p.Page, p.Limit, len(p.Items), p.Total, p.NextCursor)
		}
		last := get[eventPage](t, ta, "/api/webhooks?limit=200&page=12", token)
		if len(last.Items) != 200 || last.Items[199].ID != all[scaleEvents-1].ID || last.NextCursor != "" {
			t.Errorf("last page: %d items, next %q", len(last.Items), last.NextCursor)
		}
		bad := []struct{ query, field string }{
			{"limit=200&page=13", "page"},
			{"page=0", "page"},
			{"page=two", "page"},
			{"limit=0", "limit"},
			{"limit=10000", "limit"},
			{"limit=201", "limit"},
			{"cursor=evt_nope", "cursor"},
			{"status=lost", "status"},
			{"source=no%20spaces", "source"},
			{"from=yesterday", "from"},
			{"from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"},
			{"sort=asc", "sort"},
			{"format=csv", "format"},
		}
		for _, b := range bad {
			wantError(t, ta.call(t, request{method: "GET", path: "/api/webhooks?" + b.query, token: token}), 400, "invalid", b.field)
		}
	})

	t.Run("export csv", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			query string
			match func(api.EventView) bool
		}{
			{"source=stripe", func(e api.EventView) bool { return e.Source == "stripe" }},
			{"status=permanent_failure&format=csv", func(e api.EventView) bool { return e.Status == webhook.StatusPermanentFailure }},
			{"", func(api.EventView) bool { return true }},
		} {
			r := ta.call(t, request{method: "GET", path: "/api/webhooks/export?" + tt.query, token: token})
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
				!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") {
				t.Fatalf("export %s: %d %v", tt.query, r.status, r.header)
			}
			rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
			if err != nil {
				t.Fatalf("export %s: not CSV: %v", tt.query, err)
			}
			var wantIDs []string
			for _, e := range all {
				if tt.match(e) {
					wantIDs = append(wantIDs, e.ID)
				}
			}
			if len(rows) != len(wantIDs)+1 || rows[0][0] != "id" {
				t.Fatalf("export %s: %d rows after a header %v, want %d", tt.query, len(rows)-1, rows[0], len(wantIDs))
			}
			for i, id := range wantIDs {
				if rows[i+1][0] != id {
					t.Fatalf("export %s: row %d is %s, want %s (newest first, no gaps)", tt.query, i+1, rows[i+1][0], id)
				}
			}
		}
		for _, b := range []struct{ query, field string }{{"format=xml", "format"}, {"page=2", "page"}, {"limit=5", "limit"}, {"status=lost", "status"}} {
			wantError(t, ta.call(t, request{method: "GET", path: "/api/webhooks/export?" + b.query, token: token}), 400, "invalid", b.field)
		}
	})

	t.Run("export pdf", func(t *testing.T) {
		t.Parallel()
		r := ta.call(t, request{method: "GET", path: "/api/webhooks/export?format=pdf&source=github", token: token})
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
			t.Fatalf("PDF export: %d %v, starts %q", r.status, r.header, r.body[:min(len(r.body), 16)])
		}
	})

	t.Run("stats", func(t *testing.T) {
		t.Parallel()
		n := int64(scaleEvents / 3)
		// The store shows an attempt a moment before the collector has
		// counted it (its hook runs after the commit).
		var s api.StatsResponse
		waitFor(t, "stats to count every attempt", func() bool {
			s = get[api.StatsResponse](t, ta, "/api/stats?window=5m", token)
			var deliveries int64
			for _, b := range s.Buckets {
				deliveries += b.Deliveries
			}
			return deliveries >= 2*n
		})
		if s.Window != "5m" || s.Bucket != "10s" || len(s.Buckets) != 30 {
			t.Errorf("window %q bucket %q with %d buckets; want 5m, 10s, 30", s.Window, s.Bucket, len(s.Buckets))
		}
		if s.CountsByStatus[webhook.StatusSuccess] != 2*n || s.CountsByStatus[webhook.StatusPermanentFailure] != n ||
			s.CountsBySource["stripe"][webhook.StatusSuccess] != n || s.CountsBySource["github"][webhook.StatusSuccess] != n {
			t.Errorf("counts by status %v, by source %v", s.CountsByStatus, s.CountsBySource)
		}
		if s.Queue.Dead != n || s.Queue.Ready != 0 {
			t.Errorf("queue = %+v, want %d dead and nothing ready", s.Queue, n)
		}
		var events, deliveries, successes, failures, dead int64
		latency := true
		for _, b := range s.Buckets {
			events += b.Events
			deliveries += b.Deliveries
			successes += b.Successes
			failures += b.Failures
			dead += b.Dead
			if b.Deliveries > 0 {
				latency = latency && b.LatencyP50Ms != nil && b.LatencyP99Ms != nil && *b.LatencyP99Ms >= *b.LatencyP50Ms && b.DeliveriesPerSec > 0
			} else {
				latency = latency && b.LatencyP50Ms == nil
			}
		}
		if events != scaleEvents || deliveries != 2*n || successes != n || failures != n || dead != n || !latency {
			t.Errorf("buckets sum to %d events, %d deliveries (%d ok, %d failed, %d dead), latency %v; want %d, %d (%d, %d, %d), true",
				events, deliveries, successes, failures, dead, latency, scaleEvents, 2*n, n, n, n)
		}
		def := get[api.StatsResponse](t, ta, "/api/stats", token)
		if def.Window != "1h" || def.Bucket != "1m" || len(def.Buckets) != 60 {
			t.Errorf("default: window %q bucket %q with %d buckets; want 1h, 1m, 60", def.Window, def.Bucket, len(def.Buckets))
		}
		wantError(t, ta.call(t, request{method: "GET", path: "/api/stats?window=2h", token: token}), 400, "invalid", "window")
		wantError(t, ta.call(t, request{method: "GET", path: "/api/stats?bucket=1m", token: token}), 400, "invalid", "bucket")
	})
}

// TestEventDetail checks the payload encodings and what comes with an
// event: headers, deliveries and their attempts.
func TestEventDetail(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github")}
		cfg.Destinations = []webhook.Destination{destination("ci", rcv.URL(), "github")}
	}, nil)
	token := ta.viewer(t)

	text := []byte("{\"action\":\"opened\",\"note\":\"h\u00e9llo\"}")
	textID := ta.ingest(t, "github", text, http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"issues"}})
	binary := []byte{0x00, 0xff, 0xfe, 'h', 'i', 0x80}
	binaryID := ta.ingest(t, "github", binary, http.Header{"Content-Type": {"application/octet-stream"}})

	ev := ta.waitEvent(t, token, textID, 1)
	if ev.PayloadEncoding != "text" || ev.Payload != string(text) || ev.Source != "github" || ev.Status != webhook.StatusSuccess {
		t.Errorf("text event: encoding %q payload %q source %q status %q", ev.PayloadEncoding, ev.Payload, ev.Source, ev.Status)
	}
	if ev.Headers["X-Github-Event"] != "issues" {
		t.Errorf("headers = %v, want X-Github-Event: issues", ev.Headers)
	}
	d := ev.DeliveryList[0]
	if d.Destination != "ci" || len(d.AttemptList) != 1 || d.AttemptList[0].StatusCode != 200 || d.AttemptList[0].Number != 1 || ev.Attempts != 1 {
		t.Errorf("delivery = %+v, attempts %d; want one to ci with one 200 attempt", d, ev.Attempts)
	}

	ev = ta.waitEvent(t, token, binaryID, 1)
	raw, err := base64.StdEncoding.DecodeString(ev.Payload)
	if ev.PayloadEncoding != "base64" || err != nil || !bytes.Equal(raw, binary) {
		t.Errorf("binary event: encoding %q payload %q (%v); want base64 of the body", ev.PayloadEncoding, ev.Payload, err)
	}

	wantError(t, ta.call(t, request{method: "GET", path: "/api/webhooks/evt_01ARZ3NDEKTSV4RRFFQ69G5FAV", token: token}), 404, "not_found")
	wantError(t, ta.call(t, request{method: "GET", path: "/api/webhooks/42", token: token}), 400, "invalid", "id")
}
