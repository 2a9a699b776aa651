package report

import (
	"encoding/csv"
	"io"
	"strconv"
)

// csvHeader names the CSV columns, in order.
var csvHeader = []string{"id", "received_at", "source", "type", "status", "deliveries", "attempts", "last_error"}

// CSVWriter writes rows as CSV (RFC 4180, via encoding/csv) under a fixed
// header line:
//
//	id,received_at,source,type,status,deliveries,attempts,last_error
//
// received_at is RFC 3339 in UTC with milliseconds. Text fields that a
// spreadsheet would read as a formula are prefixed with a single quote (see
// Write). Output is buffered: call Flush when done, and between rows when
// the reader should see them sooner. A CSVWriter is not safe for concurrent
// use.
type CSVWriter struct {
	w   *csv.Writer
	err error // from writing the header
}

// NewCSVWriter returns a CSVWriter on w and buffers the header line, so an
// export with no rows still has its header once flushed.
func NewCSVWriter(w io.Writer) *CSVWriter {
	c := &CSVWriter{w: csv.NewWriter(w)}
	c.err = c.w.Write(csvHeader)
	return c
}

// Write buffers one row. An error means the underlying writer failed (for
// an HTTP export, usually that the client went away); the caller should
// stop, since later writes fail too.
//
// Values starting with '=', '+', '-', '@', tab or carriage return get a
// leading "'": Excel, LibreOffice and Google Sheets evaluate such a cell as
// a formula (some after stripping the tab or CR), and sources, event types
// and error texts come from outside (providers, receivers' responses), so
// an export could otherwise run an attacker's =HYPERLINK or DDE payload on
// an operator's machine. The quote is what OWASP recommends and makes the
// cell plain text; the price is a visible quote on values that really
// start with '-'. Numbers and times are formatted here and left alone.
func (c *CSVWriter) Write(r Row) error {
	if c.err != nil {
		return c.err
	}
	return c.w.Write([]string{
		neutralise(r.ID),
		formatTime(r.ReceivedAt),
		neutralise(r.Source),
		neutralise(r.Type),
		neutralise(string(r.Status)),
		strconv.Itoa(r.Deliveries),
		strconv.Itoa(r.Attempts),
		neutralise(r.LastError),
	})
}

// Flush writes any buffered data to the underlying writer and returns the
// first error met writing the header, rows or flushing.
func (c *CSVWriter) Flush() error {
	if c.err != nil {
		return c.err
	}
	c.w.Flush()
	return c.w.Error()
}

// neutralise makes s inert as a spreadsheet cell; see CSVWriter.Write.
func neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
