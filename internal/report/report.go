// Package report exports lists of events for people: CSV for spreadsheets
// and scripts (every row, streamed), and a printable A4 PDF (capped at a
// row limit). Both take rows one at a time so that callers can stream them
// from the store instead of loading a whole export into memory.
//
// The package imports nothing from hookd but the webhook domain types.
package report

import (
	"iter"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// Row is one event in an export.
type Row struct {
	ID     string
	Source string
	Type   string
	// Status is the event's derived status.
	Status     webhook.Status
	ReceivedAt time.Time
	// Deliveries counts the event's deliveries (one per destination).
	Deliveries int
	// Attempts counts HTTP attempts across all of its deliveries.
	Attempts int
	// LastError is the most recent delivery error, or empty.
	LastError string
}

// SliceRows adapts a slice to the iterator WritePDF takes; it never yields
// an error.
func SliceRows(rows []Row) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// timeLayout is RFC 3339 with milliseconds; times are written in UTC so
// exports from servers in different zones sort and compare as text.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// formatTime formats t for both exports; the zero time is empty.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}
