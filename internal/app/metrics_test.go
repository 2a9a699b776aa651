package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// TestMetrics sends a small burst through a real app (accepted, duplicate,
// unknown-source webhooks; one destination that answers 200, one that
// always answers 500 until its deliveries are dead) and reads GET /metrics
// over HTTP: every counter, histogram and gauge has moved by what was
// sent. A second, larger burst adds no series: labels are bounded.
func TestMetrics(t *testing.T) {
	t.Parallel()
	ok := startReceiver(t, receiver.Always(http.StatusOK))
	bad := startReceiver(t, receiver.Always(http.StatusInternalServerError))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("github"), testSource("stripe")}
		cfg.Destinations = []webhook.Destination{
			testDestination("ok", ok.URL(), newSecret(t), "github"),
			testDestination("bad", bad.URL(), newSecret(t), "stripe"),
		}
		cfg.MaxRetries = 2
		cfg.BreakerFailures = 0 // retries at once, not after a cool-down
		cfg.MaxBodyBytes = 4096
	})

	const good, failing = 10, 2
	for i := range good {
		ta.mustAccept(t, "github", fmt.Appendf(nil, `{"n":%d}`, i), jsonHeader())
	}
	h := jsonHeader()
	h.Set("Idempotency-Key", "same-key")
	ta.mustAccept(t, "stripe", []byte(`{"n":"a"}`), h)
	ta.mustAccept(t, "stripe", []byte(`{"n":"a"}`), h) // duplicate
	ta.mustAccept(t, "stripe", []byte(`{"n":"b"}`), jsonHeader())
	for _, name := range []string{"wp-login", "phpmyadmin"} {
		if status, _ := ta.post(t, "/webhook/"+name, []byte(`{}`), jsonHeader()); status != http.StatusNotFound {
			t.Fatalf("POST /webhook/%s: %d; want 404", name, status)
		}
	}
	// Refused by the traffic guard, before ingest: counted all the same.
	if status, _ := ta.post(t, "/webhook/github", []byte(strings.Repeat("x", 5000)), jsonHeader()); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over HOOKD_MAX_BODY_BYTES: %d; want 413", status)
	}
	ta.waitEnded(t, good+failing)

	m := ta.scrape(t)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hookd_ingest_requests_total", map[string]string{"source": "github", "result": "accepted"}, good},
		{"hookd_ingest_requests_total", map[string]string{"source": "stripe", "result": "accepted"}, failing},
		{"hookd_ingest_requests_total", map[string]string{"source": "stripe", "result": "duplicate"}, 1},
		{"hookd_ingest_requests_total", map[string]string{"source": "_unknown", "result": "404"}, 2},
		{"hookd_ingest_requests_total", map[string]string{"source": "github", "result": "413"}, 1},
		{"hookd_delivery_attempts_total", map[string]string{"destination": "ok", "outcome": "success", "code": "2xx"}, good},
		{"hookd_delivery_attempts_total", map[string]string{"destination": "bad", "outcome": "retry", "code": "5xx"}, failing * 2},
		{"hookd_delivery_attempts_total", map[string]string{"destination": "bad", "outcome": "dead", "code": "5xx"}, failing},
		{"hookd_delivery_attempt_duration_seconds", map[string]string{"destination": "ok"}, good},
		{"hookd_delivery_attempt_duration_seconds", map[string]string{"destination": "bad"}, failing * 3},
		{"hookd_delivery_end_to_end_seconds", map[string]string{"destination": "ok"}, good},
		{"hookd_ingest_duration_seconds", map[string]string{"source": "github"}, good},
		{"hookd_dead_letters", nil, failing},
		{"hookd_queue_ready", nil, 0},
		{"hookd_queue_scheduled_retries", nil, 0},
		{"hookd_queue_in_flight", nil, 0},
		{"hookd_destination_circuit_state", map[string]string{"destination": "ok", "state": "closed"}, 1},
		{"hookd_destination_circuit_state", map[string]string{"destination": "ok", "state": "open"}, 0},
		{"hookd_destination_consecutive_failures", map[string]string{"destination": "ok"}, 0},
		{"hookd_store_errors_total", map[string]string{"op": "record_attempt"}, 0},
		{"hookd_queue_errors_total", map[string]string{"op": "claim"}, 0},
	} {
		got, found := value(m, c.name, c.labels)
		switch {
		case c.want < 0 && found:
			t.Errorf("%s%v = %v; want no series", c.name, c.labels, got)
		case c.want >= 0 && !found:
			t.Errorf("%s%v: no such series", c.name, c.labels)
		case c.want >= 0 && got != c.want:
			t.Errorf("%s%v = %v; want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, found := value(m, "hookd_delivery_in_flight_local", nil); !found {
		t.Error("hookd_delivery_in_flight_local: no such series")
	}
	if _, found := value(m, "hookd_ingest_requests_total", map[string]string{"source": "wp-login"}); found {
		t.Error("an unknown source's name became a label")
	}

	t.Run("dashboard and alerts query exported metrics", func(t *testing.T) {
		exported := map[string]bool{}
		for name, f := range m {
			exported[name] = true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					exported[name+s] = true
				}
			}
		}
		for file, exprs := range map[string][]string{
			"deploy/grafana/hookd.json":    dashboardExprs(t, "../../deploy/grafana/hookd.json"),
			"deploy/prometheus/alerts.yml": alertExprs(t, "../../deploy/prometheus/alerts.yml"),
		} {
			if len(exprs) == 0 {
				t.Errorf("%s: no queries found", file)
			}
			for _, e := range exprs {
				names := metricName.FindAllString(e, -1)
				if len(names) == 0 {
					t.Errorf("%s: %q queries no hookd metric", file, e)
				}
				for _, n := range names {
					if !exported[n] {
						t.Errorf("%s: %q queries %s, which hookd does not export", file, e, n)
					}
				}
			}
		}
	})

	// Many more events of the same sources and destinations: the counters
	// grow, the number of series does not.
	before := seriesCount(m)
	for i := range 30 {
		ta.mustAccept(t, "github", fmt.Appendf(nil, `{"more":%d}`, i), jsonHeader())
	}
	ta.waitEnded(t, good+failing+30)
	time.Sleep(2100 * time.Millisecond) // past the gauges' cache
	m = ta.scrape(t)
	if after := seriesCount(m); after != before {
		t.Errorf("hookd series: %d after 30 more events, %d before; want the same", after, before)
	}
	if got, _ := value(m, "hookd_delivery_attempts_total", map[string]string{"destination": "ok", "outcome": "success", "code": "2xx"}); got != good+30 {
		t.Errorf("successful attempts to ok = %v; want %d", got, good+30)
	}
}

// waitEnded waits until n deliveries have ended, either way.
func (ta *testApp) waitEnded(t *testing.T, n int) {
	t.Helper()
	ta.records.waitFor(t, 20*time.Second, fmt.Sprintf("%d deliveries to end", n), func(rs []attemptRecord) bool {
		return countTerminal(rs) >= n
	})
}

// TestMetricsOnEveryRole: the api and the worker processes of a split
// deployment (sharing PostgreSQL) both serve GET /metrics, with the queue
// gauges read from the shared store. The worker's shows the attempt it
// made; the api's the webhook it took.
func TestMetricsOnEveryRole(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.Schema(t, "hookd_metrics_test")
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	secret := newSecret(t)
	configure := func(role string) func(cfg *config.Config) {
		return func(cfg *config.Config) {
			cfg.DatabaseURL = dbURL
			cfg.Role = role
			cfg.Sources = []webhook.Source{testSource("github")}
			cfg.Destinations = []webhook.Destination{testDestination("d", rcv.URL(), secret, "github")}
		}
	}
	api := setup(t, configure(config.RoleAPI))
	worker := setup(t, configure(config.RoleWorker))
	api.mustAccept(t, "github", []byte(`{"n":1}`), jsonHeader())
	worker.waitEnded(t, 1)
	for _, c := range []struct {
		ta     *testApp
		name   string
		labels map[string]string
	}{
		{api, "hookd_ingest_requests_total", map[string]string{"source": "github", "result": "accepted"}},
		{worker, "hookd_delivery_attempts_total", map[string]string{"destination": "d", "outcome": "success"}},
		{api, "hookd_queue_ready", nil},
		{worker, "hookd_queue_ready", nil},
		{worker, "hookd_destination_circuit_state", map[string]string{"destination": "d", "state": "closed"}},
	} {
		m := c.ta.scrape(t)
		if got, found := value(m, c.name, c.labels); !found || (c.labels != nil && got != 1) {
			t.Errorf("%s role: %s%v = %v (found %v); want 1", c.ta.cfg.Role, c.name, c.labels, got, found)
		}
	}
}

// metricName finds the hookd metric names in a PromQL expression.
var metricName = regexp.MustCompile(`hookd_[a-z_]+`)

func (ta *testApp) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	status, raw := ta.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, raw)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("GET /metrics: not the Prometheus text format: %v", err)
	}
	return families
}

// value returns the value of the series of name whose labels include
// labels (summed over the others); a histogram's value is its count.
func value(m map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := m[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, s := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range s.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case s.Counter != nil:
			sum += s.GetCounter().GetValue()
		case s.Gauge != nil:
			sum += s.GetGauge().GetValue()
		case s.Histogram != nil:
			sum += float64(s.GetHistogram().GetSampleCount())
		}
	}
	return sum, found
}

func seriesCount(m map[string]*dto.MetricFamily) int {
	n := 0
	for name, f := range m {
		if strings.HasPrefix(name, "hookd_") {
			n += len(f.GetMetric())
		}
	}
	return n
}

// dashboardExprs returns every query of a Grafana dashboard's panels.
func dashboardExprs(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	return exprs
}

// alertExprs returns every expression of a Prometheus rules file.
func alertExprs(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	return slices.Clip(exprs)
}
