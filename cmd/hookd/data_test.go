package main

// These tests drive `hookd stats`, `hookd export` and `hookd import`
// in-process against a temporary SQLite file and a real PostgreSQL schema.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/store/storetest"
	"github.com/hookd/hookd/internal/webhook"
)

var dataBase = time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)

// seedRecords returns n events of two sources, received an hour apart,
// with every kind of delivery: delivered after a retry, dead, still
// pending, and none at all.
func seedRecords(n int) []store.EventRecord {
	var out []store.EventRecord
	for i := range n {
		received := dataBase.Add(time.Duration(i) * time.Hour)
		ev := webhook.Event{
			ID: ids.New(ids.Event), Source: []string{"github", "stripe"}[i%2], Type: fmt.Sprintf("type.%d", i%3),
			Body: []byte(fmt.Sprintf(`{"n":%d,"bin":"\u00e9"}`, i)), ContentType: "application/json",
			Headers: map[string]string{"X-Github-Event": "push", "User-Agent": "test"}, ReceivedAt: received,
		}
		if i%4 == 0 {
			ev.IdempotencyKey = fmt.Sprintf("provider-%d", i)
		}
		r := store.EventRecord{Event: ev}
		counts := map[webhook.Status]int{}
		for j, st := range [][]webhook.Status{{webhook.StatusSuccess}, {webhook.StatusSuccess, webhook.StatusPermanentFailure}, {webhook.StatusPending, webhook.StatusFailed}, nil}[i%4] {
			d := webhook.Delivery{ID: ids.New(ids.Delivery), EventID: ev.ID, Destination: fmt.Sprintf("dest-%d", j), Status: st,
				Attempts: 2, NextAttemptAt: received.Add(time.Minute), LastError: "HTTP 503", CreatedAt: received, UpdatedAt: received.Add(2 * time.Second)}
			dr := store.DeliveryRecord{Delivery: d}
			for k := range 2 {
				dr.Attempts = append(dr.Attempts, webhook.Attempt{ID: ids.New(ids.Attempt), DeliveryID: d.ID, Number: k + 1,
					StartedAt: received.Add(time.Duration(k) * time.Second), Duration: 1234 * time.Microsecond, StatusCode: 503,
					ResponseBody: []byte{0, 1, 2, 0xff}, Error: "HTTP 503"})
			}
			r.Deliveries = append(r.Deliveries, dr)
			counts[st]++
		}
		r.Event.Status = webhook.DeriveEventStatus(counts)
		out = append(out, r)
	}
	return out
}

// dataRun runs a command against databaseURL with no .env file.
func dataRun(t *testing.T, databaseURL string, args ...string) (string, string) {
	t.Helper()
	args = append(args, "--database-url", databaseURL, "--env-file", filepath.Join(t.TempDir(), "absent.env"))
	stdout, stderr, err := runHookd(t, "", args...)
	if err != nil {
		t.Fatalf("hookd %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

func openSQLite(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := sqlite.OpenShared(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExportImportRoundTrip moves events from SQLite to PostgreSQL and
// back with export and import, and finds every event, delivery and
// attempt unchanged; importing a file twice stores it once.
func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sqliteA, sqliteB := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	pgURL, _ := pgtest.Schema(t, "hookd_export")
	records := seedRecords(40)
	src := openSQLite(t, sqliteA)
	if n, err := src.EventImportMany(context.Background(), records); err != nil || n != len(records) {
		t.Fatalf("seed: %d, %v", n, err)
	}

	fileA, fileP, fileB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "p.jsonl"), filepath.Join(dir, "b.jsonl")
	_, stderr := dataRun(t, "sqlite://"+sqliteA, "export", "--output", fileA)
	mustMatch(t, "export stderr", stderr, `exported 40 events`)

	out, _ := dataRun(t, pgURL, "import", fileA)
	mustMatch(t, "first import", out, `imported 40 events from .*: 40 new, 0 already stored`)
	out, _ = dataRun(t, pgURL, "import", fileA)
	mustMatch(t, "second import", out, `imported 40 events from .*: 0 new, 40 already stored`)

	dataRun(t, pgURL, "export", "--output", fileP)
	dataRun(t, "sqlite://"+sqliteB, "import", fileP)
	dataRun(t, "sqlite://"+sqliteB, "export", "--output", fileB)

	if a, p, b := readFile(t, fileA), readFile(t, fileP), readFile(t, fileB); a != p || a != b {
		t.Errorf("exports differ between stores:\nsqlite:   %.300s\npostgres: %.300s\nsqlite 2: %.300s", a, p, b)
	}
	pg, back := openPostgres(t, pgURL), openSQLite(t, sqliteB)
	for _, r := range records {
		for name, st := range map[string]store.Store{"postgres": pg, "sqlite after postgres": back} {
			if got := storetest.ReadRecord(t, st, r.Event.ID); !storetest.RecordsEqual(got, r) {
				t.Errorf("%s: event %s differs:\n got %+v\nwant %+v", name, r.Event.ID, got, r)
			}
		}
	}
	u, err := pg.UsageGet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sumCounts(u.Events) != 40 || sumCounts(u.Deliveries) != 50 || u.Attempts != 100 {
		t.Errorf("postgres after two imports: %+v, want 40 events, 50 deliveries, 100 attempts", u)
	}
}

func TestExportFilters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookd.db")
	st := openSQLite(t, path)
	if _, err := st.EventImportMany(context.Background(), seedRecords(10)); err != nil {
		t.Fatal(err)
	}
	lines := func(out string) int { return strings.Count(out, "\n") }
	tests := []struct {
		args []string
		want int
	}{
		{nil, 10},
		{[]string{"--source", "github"}, 5},
		{[]string{"--since", dataBase.Add(6 * time.Hour).Format(time.RFC3339Nano)}, 4},
		{[]string{"--until", dataBase.Add(3 * time.Hour).Format(time.RFC3339Nano)}, 3},
		{[]string{"--source", "stripe", "--since", dataBase.Add(2 * time.Hour).Format(time.RFC3339Nano), "--until", dataBase.Add(7 * time.Hour).Format(time.RFC3339Nano)}, 2},
	}
	for _, tt := range tests {
		out, _ := dataRun(t, "sqlite://"+path, append([]string{"export"}, tt.args...)...)
		if got := lines(out); got != tt.want {
			t.Errorf("export %v: %d events, want %d", tt.args, got, tt.want)
		}
	}
}

func TestImportRefusesBadLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "hookd.db")
	for name, line := range map[string]string{
		"not json":       `{"id":`,
		"no source":      `{"id":"evt_1","received_at":"2026-01-01T00:00:00Z","status":"success"}`,
		"bad status":     `{"id":"evt_1","source":"s","received_at":"2026-01-01T00:00:00Z","status":"done"}`,
		"delivery ids":   `{"id":"evt_1","source":"s","received_at":"2026-01-01T00:00:00Z","status":"pending","deliveries":[{"status":"pending"}]}`,
		"bad base64":     `{"id":"evt_1","source":"s","received_at":"2026-01-01T00:00:00Z","status":"success","payload":"!!"}`,
		"no received_at": `{"id":"evt_1","source":"s","status":"success"}`,
	} {
		file := filepath.Join(dir, "bad.jsonl")
		if err := os.WriteFile(file, []byte("\n"+line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := runHookd(t, "", "import", file, "--database-url", "sqlite://"+path, "--env-file", filepath.Join(dir, "absent.env"))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: import error = %v, want one naming line 2", name, err)
		}
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookd.db")
	st := openSQLite(t, path)
	if _, err := st.EventImportMany(context.Background(), seedRecords(8)); err != nil {
		t.Fatal(err)
	}
	out, _ := dataRun(t, "sqlite://"+path, "stats")
	mustMatch(t, "stats", out,
		`(?m)^size +[0-9.]+ [KM]iB \([0-9]+ bytes\)$`,
		`(?m)^events +8 \(failed 2, success 4, permanent_failure 2\)$`,
		`(?m)^deliveries +10 \(pending 2, failed 2, success 4, permanent_failure 2\)$`,
		`(?m)^attempts +20$`,
		`(?m)^oldest event +`+regexp.QuoteMeta(dataBase.Format(time.RFC3339))+` \(`)
	out, _ = dataRun(t, "sqlite://"+path, "stats", "--json")
	mustMatch(t, "stats --json", out, `"attempts": 20`, `"events": \{`, `"size_bytes": [1-9]`)
}
