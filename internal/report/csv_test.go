package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// readCSV parses data and fails the test on a syntax error.
func readCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v\n%s", err, data)
	}
	return records
}

// writeCSV writes rows with a CSVWriter and returns the output.
func writeCSV(t *testing.T, rows ...Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewCSVWriter(&buf)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return buf.Bytes()
}

var wantHeader = []string{"id", "received_at", "source", "type", "status", "deliveries", "attempts", "last_error"}

func TestCSVRoundTrip(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	rows := []Row{
		{
			ID: "01J0000000000000000000000A", Source: "github", Type: "push",
			Status: webhook.StatusSuccess, ReceivedAt: time.Date(2025, 3, 4, 5, 6, 7, 891_234_567, time.UTC),
			Deliveries: 2, Attempts: 3,
		},
		{
			ID: "01J0000000000000000000000B", Source: "stripe", Type: "invoice.paid",
			Status: webhook.StatusPermanentFailure, ReceivedAt: time.Date(2025, 3, 4, 6, 0, 0, 0, paris),
			Deliveries: 1, Attempts: 8,
			LastError: "receiver said \"no\", then closed:\nconnection reset; ünïcödé 事件",
		},
		{ID: "01J0000000000000000000000C", Source: "github", Type: "ping", Status: webhook.StatusPending},
	}
	records := readCSV(t, writeCSV(t, rows...))

	want := [][]string{
		wantHeader,
		{"01J0000000000000000000000A", "2025-03-04T05:06:07.891Z", "github", "push", "success", "2", "3", ""},
		{"01J0000000000000000000000B", "2025-03-04T05:00:00.000Z", "stripe", "invoice.paid", "permanent_failure", "1", "8",
			"receiver said \"no\", then closed:\nconnection reset; ünïcödé 事件"},
		{"01J0000000000000000000000C", "", "github", "ping", "pending", "0", "0", ""},
	}
	if len(records) != len(want) {
		t.Fatalf("got %d records, want %d:\n%q", len(records), len(want), records)
	}
	for i := range want {
		if !slices.Equal(records[i], want[i]) {
			t.Errorf("record %d = %q, want %q", i, records[i], want[i])
		}
	}
}

func TestCSVHeaderWithoutRows(t *testing.T) {
	t.Parallel()
	got := string(writeCSV(t))
	if want := strings.Join(wantHeader, ",") + "\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}

func TestCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value, want string
	}{
		{"=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"cmd|' /C calc'!A0", "cmd|' /C calc'!A0"}, // not at the start: inert
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
		{" =1", " =1"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.value), func(t *testing.T) {
			t.Parallel()
			row := Row{ID: tt.value, Source: tt.value, Type: tt.value, Status: webhook.Status(tt.value), LastError: tt.value, Deliveries: -1}
			records := readCSV(t, writeCSV(t, row))
			got := records[1]
			for _, i := range []int{0, 2, 3, 4, 7} {
				if got[i] != tt.want {
					t.Errorf("%s = %q, want %q", wantHeader[i], got[i], tt.want)
				}
			}
			if got[5] != "-1" {
				t.Errorf("deliveries = %q, want -1: numbers are ours, not neutralised", got[5])
			}
		})
	}
}

// countingWriter counts the bytes that reached it.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

// TestCSVStreamsManyRows checks that rows reach the underlying writer as
// they are written, not all at Flush, and that a large export parses back.
func TestCSVStreamsManyRows(t *testing.T) {
	t.Parallel()
	const total = 50_000
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	row := func(i int) Row {
		return Row{ID: fmt.Sprintf("evt_%06d", i), Source: "github", Type: "push", Status: webhook.StatusSuccess,
			ReceivedAt: at.Add(time.Duration(i) * time.Millisecond), Deliveries: 1, Attempts: 1}
	}

	counter := &countingWriter{}
	w := NewCSVWriter(counter)
	for i := range 1_000 {
		if err := w.Write(row(i)); err != nil {
			t.Fatal(err)
		}
	}
	if counter.n == 0 {
		t.Error("nothing reached the writer after 1,000 rows: output is not streamed")
	}

	var buf bytes.Buffer
	w = NewCSVWriter(&buf)
	for i := range total {
		if err := w.Write(row(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(&buf)
	if _, err := r.Read(); err != nil {
		t.Fatalf("read header: %v", err)
	}
	for i := range total {
		rec, err := r.Read()
		if err != nil {
			t.Fatalf("read row %d: %v", i, err)
		}
		if want := fmt.Sprintf("evt_%06d", i); rec[0] != want {
			t.Fatalf("row %d id = %q, want %q", i, rec[0], want)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("after %d rows: %v, want EOF", total, err)
	}
}

// failingWriter fails every write.
type failingWriter struct{}

var errGone = errors.New("client went away")

func (failingWriter) Write([]byte) (int, error) { return 0, errGone }

func TestCSVReportsWriteErrors(t *testing.T) {
	t.Parallel()
	w := NewCSVWriter(failingWriter{})
	var err error
	for i := 0; i < 10_000 && err == nil; i++ {
		err = w.Write(Row{ID: "evt", LastError: strings.Repeat("x", 100)})
	}
	if !errors.Is(err, errGone) {
		t.Errorf("Write error = %v, want %v once the buffer flushes", err, errGone)
	}
	if err := w.Flush(); !errors.Is(err, errGone) {
		t.Errorf("Flush = %v, want %v", err, errGone)
	}
}
