package main

import (
	"encoding/json"
	"testing"

	"github.com/hookd/hookd/internal/store/storetest"
)

// FuzzParseImportLine: any line is refused with an error or gives a record
// that exports back to a line which parses to the same record.
func FuzzParseImportLine(f *testing.F) {
	for _, r := range seedRecords(4) {
		line, err := json.Marshal(toExport(r))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(line)
	}
	f.Add([]byte(`{"id":"evt_1","source":"s","received_at":"2026-01-01T00:00:00Z","status":"success","payload":"aGk="}`))
	f.Add([]byte(`{"id":"evt_1","source":"s","received_at":"2026-01-01T00:00:00Z","status":"pending","deliveries":[{"id":"d","destination":"x","status":"pending","attempts":[{"id":"a"}]}]}`))
	f.Add([]byte("\r\n"))
	f.Add([]byte(`{"id":`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, ok, err := parseImportLine(line)
		if err != nil || !ok {
			return
		}
		again, err := json.Marshal(toExport(rec))
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		rec2, ok, err := parseImportLine(again)
		if err != nil || !ok {
			t.Fatalf("re-encoded line refused: %v\n%s", err, again)
		}
		if !storetest.RecordsEqual(rec, rec2) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", rec, rec2)
		}
	})
}
