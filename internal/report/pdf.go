package report

import (
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
)

// DefaultMaxRows is the PDF row cap used when PDF.MaxRows is 0. A printed
// report of more rows than this (about 140 pages) helps nobody; CSV has no
// cap.
const DefaultMaxRows = 5000

// PDF describes a printable report: A4 landscape, Helvetica, a title, a
// line with the filters and generation time, a table of rows with the CSV's
// columns, and "Page n of N" in every footer.
type PDF struct {
	// Title heads the first page and names the document.
	Title string
	// Filters describes, for the reader, which events were selected, such
	// as "status=failed, source=github". Empty prints "none".
	Filters string
	// GeneratedAt is printed (in UTC) and becomes the document's creation
	// date; pass the clock's now.
	GeneratedAt time.Time
	// MaxRows caps the rows printed. Default DefaultMaxRows (5,000).
	MaxRows int
}

// WritePDF writes a PDF report with the default row cap; it is
// PDF{Title: title, Filters: filters, GeneratedAt: generatedAt}.Write(w, rows).
func WritePDF(w io.Writer, title, filters string, rows iter.Seq2[Row, error], generatedAt time.Time) error {
	return PDF{Title: title, Filters: filters, GeneratedAt: generatedAt}.Write(w, rows)
}

// Write renders the report from rows and writes it to w.
//
// rows is pulled in order, one row at a time, so a caller can stream from a
// store cursor; yield (Row{}, err) to abort the report with err. Write stops
// pulling after MaxRows+1 rows (the extra one only tells it there are
// more), breaking out of the iteration so the producer can release its
// cursor; when rows were left out it prints a final line saying the report
// was truncated and to export CSV for every row.
//
// The document is built in memory and written to w only when complete, so
// on any error (from rows, or from rendering) nothing has been written and
// an HTTP handler can still answer with an error status. Memory grows with
// the rows printed, which MaxRows bounds.
//
// Text is drawn with the PDF core fonts, which cover Windows-1252 only:
// other characters (and control characters) are replaced, never an error,
// and cells too long for their column are cut with "...".
func (p PDF) Write(w io.Writer, rows iter.Seq2[Row, error]) error {
	maxRows := p.MaxRows
	if maxRows <= 0 {
		maxRows = DefaultMaxRows
	}
	doc := newDocument(p)
	n, more := 0, false
	for row, err := range rows {
		if err != nil {
			return fmt.Errorf("report: rows: %w", err)
		}
		if n == maxRows {
			more = true
			break
		}
		doc.row(row, n)
		n++
		if doc.pdf.Err() {
			break
		}
	}
	doc.finish(n, more, maxRows)
	if err := doc.pdf.Output(w); err != nil {
		return fmt.Errorf("report: render PDF: %w", err)
	}
	return nil
}

// Page geometry in millimetres (A4 landscape is 297 × 210).
const (
	margin     = 10.0
	footerY    = -12.0        // from the bottom edge
	tableLimit = 210.0 - 18.0 // rows end here, clear of the footer
	rowHeight  = 5.5
	cellPad    = 1.0 // fpdf's default cell margin, each side
	fontSize   = 8.0
)

// column is one table column: heading, width, alignment and value.
type column struct {
	heading string
	width   float64
	align   string
	value   func(Row) string
}

// columns follow the CSV's order; their widths add up to the 277 mm
// between the margins.
var columns = []column{
	{"ID", 46, "L", func(r Row) string { return r.ID }},
	{"Received (UTC)", 38, "L", func(r Row) string { return formatTime(r.ReceivedAt) }},
	{"Source", 30, "L", func(r Row) string { return r.Source }},
	{"Type", 46, "L", func(r Row) string { return r.Type }},
	{"Status", 26, "L", func(r Row) string { return string(r.Status) }},
	{"Deliveries", 16, "R", func(r Row) string { return strconv.Itoa(r.Deliveries) }},
	{"Attempts", 15, "R", func(r Row) string { return strconv.Itoa(r.Attempts) }},
	{"Last error", 60, "L", func(r Row) string { return r.LastError }},
}

// document is a report being drawn.
type document struct {
	pdf  *fpdf.Fpdf
	text func(string) string // UTF-8 → Windows-1252 bytes, see encoder
}

func newDocument(p PDF) *document {
	pdf := fpdf.New("L", "mm", "A4", "")
	d := &document{pdf: pdf, text: encoder(pdf)}
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(false, 0) // rows break pages themselves, to repeat the heading
	pdf.AliasNbPages("{nb}")
	pdf.SetTitle(p.Title, true)
	pdf.SetCreator("hookd", false)
	if !p.GeneratedAt.IsZero() {
		pdf.SetCreationDate(p.GeneratedAt)
		pdf.SetModificationDate(p.GeneratedAt)
	}
	title := d.text(p.Title)
	pdf.SetFooterFunc(func() {
		pdf.SetY(footerY)
		pdf.SetFont("Helvetica", "", 7)
		pdf.SetTextColor(100, 100, 100)
		pdf.CellFormat(200, 5, d.fit(title, 200), "", 0, "L", false, 0, "")
		pdf.CellFormat(0, 5, fmt.Sprintf("Page %d of {nb}", pdf.PageNo()), "", 0, "R", false, 0, "")
	})

	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 9, d.fit(title, 277), "", 1, "L", false, 0, "")
	filters := p.Filters
	if strings.TrimSpace(filters) == "" {
		filters = "none"
	}
	generated := "unknown"
	if !p.GeneratedAt.IsZero() {
		generated = p.GeneratedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	pdf.SetFont("Helvetica", "", 9)
	pdf.SetTextColor(60, 60, 60)
	line := d.text("Filters: "+filters) + "    Generated: " + generated
	pdf.CellFormat(0, 6, d.fit(line, 277), "", 1, "L", false, 0, "")
	pdf.Ln(2)
	d.heading()
	return d
}

// heading draws the table's header row.
func (d *document) heading() {
	pdf := d.pdf
	pdf.SetFont("Helvetica", "B", fontSize)
	pdf.SetFillColor(220, 224, 230)
	pdf.SetTextColor(0, 0, 0)
	pdf.SetDrawColor(190, 190, 190)
	pdf.SetLineWidth(0.1)
	for _, c := range columns {
		pdf.CellFormat(c.width, rowHeight+0.5, c.heading, "1", 0, c.align, true, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", fontSize)
}

// row draws row number i (from 0), starting a new page when it would not
// fit on this one.
func (d *document) row(r Row, i int) {
	pdf := d.pdf
	if pdf.GetY()+rowHeight > tableLimit {
		pdf.AddPage()
		d.heading()
	}
	pdf.SetFillColor(245, 246, 248)
	for _, c := range columns {
		cell := d.fit(d.text(c.value(r)), c.width)
		pdf.CellFormat(c.width, rowHeight, cell, "1", 0, c.align, i%2 == 1, 0, "")
	}
	pdf.Ln(-1)
}

// finish closes the table and says if there was nothing, or more than was
// printed.
func (d *document) finish(printed int, more bool, maxRows int) {
	pdf := d.pdf
	if pdf.GetY()+2*rowHeight > tableLimit {
		pdf.AddPage()
	}
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "I", 9)
	switch {
	case printed == 0:
		pdf.CellFormat(0, 6, "No events match these filters.", "", 1, "L", false, 0, "")
	case more:
		msg := fmt.Sprintf("Report truncated after %s rows; export CSV to get every row.", thousands(maxRows))
		pdf.CellFormat(0, 6, msg, "", 1, "L", false, 0, "")
	}
}

// fit returns s, already encoded by d.text, cut with "..." to fit a cell
// of width w. Core-font widths add up per byte, so one pass suffices.
func (d *document) fit(s string, w float64) string {
	avail := w - 2*cellPad
	if d.pdf.GetStringWidth(s) <= avail {
		return s
	}
	avail -= d.pdf.GetStringWidth("...")
	used := 0.0
	for i := 0; i < len(s); i++ {
		used += d.pdf.GetStringWidth(s[i : i+1])
		if used > avail {
			return s[:i] + "..."
		}
	}
	return s
}

// maxCellRunes bounds how much of one value is encoded: no column shows
// more than this, and it keeps fit linear in the column, not the value (a
// receiver's error text may be long).
const maxCellRunes = 300

// encoder returns a function turning UTF-8 into the Windows-1252 bytes the
// core fonts draw. Control characters become spaces (a NUL would end the
// string for fpdf's width tables), and characters outside Windows-1252 —
// emoji, CJK, invalid UTF-8 — become '?', so any event text renders.
func encoder(pdf *fpdf.Fpdf) func(string) string {
	cp1252 := pdf.UnicodeTranslatorFromDescriptor("") // maps unknown runes to '.'
	return func(s string) string {
		var b strings.Builder
		b.Grow(min(len(s), maxCellRunes))
		n := 0
		for _, r := range s {
			if n == maxCellRunes {
				break
			}
			n++
			switch {
			case r < 0x20 || r == 0x7f:
				b.WriteByte(' ')
			case r < 0x80:
				b.WriteByte(byte(r))
			case r == utf8.RuneError:
				b.WriteByte('?')
			default:
				if c := cp1252(string(r)); c != "." {
					b.WriteString(c)
				} else {
					b.WriteByte('?')
				}
			}
		}
		return b.String()
	}
}

// thousands formats n with comma separators: 5000 → "5,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
