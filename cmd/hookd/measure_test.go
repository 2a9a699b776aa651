package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/retention"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// TestMeasureRetention measures a retention pass over 20000 old events
// (15000 of them finished) and ingest latency beside it, on both stores:
//
//	MEASURE=1 go test -count=1 -run TestMeasureRetention -v ./cmd/hookd
func TestMeasureRetention(t *testing.T) {
	if os.Getenv("MEASURE") == "" {
		t.Skip("set MEASURE=1 to measure")
	}
	pgURL, _ := pgtest.Schema(t, "hookd_measure")
	for name, st := range map[string]store.Store{"sqlite": openSQLite(t, filepath.Join(t.TempDir(), "a.db")), "postgres": openPostgres(t, pgURL)} {
		recs := seedRecords(20000)
		for i := range recs {
			recs[i].Event.ReceivedAt = time.Now().Add(-48 * time.Hour)
		}
		for i := 0; i < len(recs); i += 500 {
			if _, err := st.EventImportMany(context.Background(), recs[i:i+500]); err != nil {
				t.Fatal(err)
			}
		}
		job := retention.New(st, retention.Options{MaxAge: 24 * time.Hour})
		var (
			lat  []time.Duration
			wg   sync.WaitGroup
			stop = make(chan struct{})
		)
		ingest := func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ev := webhook.Event{ID: ids.New(ids.Event), Source: "x", Body: []byte("{}"), ReceivedAt: time.Now(), Status: webhook.StatusSuccess}
				s := time.Now()
				if _, err := st.EventInsertMany(context.Background(), []store.EventInsertParams{{Event: ev}}); err != nil {
					t.Error(err)
					return
				}
				lat = append(lat, time.Since(s))
			}
		}
		quantiles := func() string {
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			return fmt.Sprintf("%d inserts, p50 %s p99 %s max %s", len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
		}
		wg.Go(ingest)
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()
		t.Logf("%s: ingest alone for 2s: %s", name, quantiles())
		lat, stop = nil, make(chan struct{})
		wg.Go(ingest)
		start := time.Now()
		n, err := job.Pass(context.Background())
		took := time.Since(start)
		close(stop)
		wg.Wait()
		t.Logf("%s: pass deleted %d finished events in %s (err %v); ingest beside it: %s", name, n, took, err, quantiles())
	}
}

// TestMeasureExportImport times moving 20000 events from SQLite to
// PostgreSQL and back with export and import:
//
//	MEASURE=1 go test -count=1 -run TestMeasureExportImport -v ./cmd/hookd
func TestMeasureExportImport(t *testing.T) {
	if os.Getenv("MEASURE") == "" {
		t.Skip("set MEASURE=1 to measure")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	pgURL, _ := pgtest.Schema(t, "hookd_measure")
	st := openSQLite(t, path)
	recs := seedRecords(20000)
	for i := 0; i < len(recs); i += 500 {
		if _, err := st.EventImportMany(context.Background(), recs[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "a.jsonl")
	step := func(what string, databaseURL string, args ...string) {
		start := time.Now()
		dataRun(t, databaseURL, args...)
		t.Logf("%s of 20000 events: %s", what, time.Since(start))
	}
	step("sqlite export", "sqlite://"+path, "export", "-o", file)
	step("postgres import", pgURL, "import", file)
	step("postgres export", pgURL, "export", "-o", file+".p")
	step("sqlite import", "sqlite://"+filepath.Join(dir, "b.db"), "import", file+".p")
	if fi, err := os.Stat(file); err == nil {
		t.Logf("export file: %d bytes", fi.Size())
	}
}
