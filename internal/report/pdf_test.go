package report

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"iter"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

var generatedAt = time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)

// rowsN returns n distinct rows.
func rowsN(n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = Row{
			ID: fmt.Sprintf("evt_%05d", i), Source: "github", Type: "issues.opened",
			Status: webhook.StatusFailed, ReceivedAt: generatedAt.Add(-time.Duration(i) * time.Second),
			Deliveries: 2, Attempts: 5, LastError: "503 Service Unavailable",
		}
	}
	return rows
}

// render writes a PDF and fails the test on error.
func render(t *testing.T, p PDF, rows iter.Seq2[Row, error]) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := p.Write(&buf, rows); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("output starts %q, want %%PDF-", buf.Bytes()[:min(buf.Len(), 16)])
	}
	return buf.Bytes()
}

// pdfText is a text-extraction heuristic: it inflates every compressed
// stream (the page contents) and joins them, so tests can look for the
// "(text)Tj" operators fpdf draws strings with. Strings appear as the
// Windows-1252 bytes drawn, with '(', ')' and '\' escaped.
func pdfText(t *testing.T, data []byte) string {
	t.Helper()
	var text strings.Builder
	for rest := data; ; {
		i := bytes.Index(rest, []byte("stream\n"))
		if i < 0 {
			break
		}
		rest = rest[i+len("stream\n"):]
		end := bytes.Index(rest, []byte("\nendstream"))
		if end < 0 {
			t.Fatal("stream without endstream")
		}
		stream := rest[:end]
		rest = rest[end+len("\nendstream"):]
		zr, err := zlib.NewReader(bytes.NewReader(stream))
		if err != nil {
			continue // not compressed, not page content
		}
		content, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("inflate stream: %v", err)
		}
		text.Write(content)
		text.WriteByte('\n')
	}
	return text.String()
}

// pageObject matches a page object's type entry, not the /Pages tree.
var pageObject = regexp.MustCompile(`/Type /Page\b[^s]`)

func pageCount(data []byte) int { return len(pageObject.FindAll(data, -1)) }

func TestPDFLayout(t *testing.T) {
	t.Parallel()
	p := PDF{Title: "Failed events this week", Filters: "status=failed, source=github", GeneratedAt: generatedAt}
	data := render(t, p, SliceRows(rowsN(200)))
	text := pdfText(t, data)

	pages := pageCount(data)
	if pages < 2 {
		t.Fatalf("200 rows on %d page(s), want more than 1", pages)
	}
	for _, want := range []string{
		"(Failed events this week)Tj",
		"Filters: status=failed, source=github",
		"Generated: 2025-05-06 07:08:09 UTC",
		"(ID)Tj", "(Received \\(UTC\\))Tj", "(Last error)Tj",
		"(evt_00000)Tj", "(evt_00199)Tj", "(2025-05-06T07:08:09.000Z)Tj",
		"(Page 1 of " + strconv.Itoa(pages) + ")Tj",
		"(Page " + strconv.Itoa(pages) + " of " + strconv.Itoa(pages) + ")Tj",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	if got := strings.Count(text, "(Last error)Tj"); got != pages {
		t.Errorf("table heading drawn %d times, want once per page (%d)", got, pages)
	}
	if strings.Contains(text, "truncated") {
		t.Error("200 rows under the cap, yet the report says it was truncated")
	}
}

// endless yields rows forever and counts how many were pulled.
func endless(pulled *int) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for i := 0; ; i++ {
			*pulled++
			if !yield(Row{ID: fmt.Sprintf("evt_%05d", i), Status: webhook.StatusPending}, nil) {
				return
			}
		}
	}
}

func TestPDFTruncatesAtMaxRows(t *testing.T) {
	t.Parallel()
	pulled := 0
	data := render(t, PDF{Title: "All", GeneratedAt: generatedAt, MaxRows: 50}, endless(&pulled))
	text := pdfText(t, data)
	if pulled != 51 {
		t.Errorf("pulled %d rows, want 51 (MaxRows and one to learn there are more)", pulled)
	}
	if !strings.Contains(text, "(evt_00049)Tj") || strings.Contains(text, "(evt_00050)Tj") {
		t.Error("want rows evt_00000..evt_00049 printed and evt_00050 not")
	}
	if !strings.Contains(text, "(Report truncated after 50 rows; export CSV to get every row.)Tj") {
		t.Error("truncation line missing")
	}
}

func TestPDFExactlyMaxRowsIsNotTruncated(t *testing.T) {
	t.Parallel()
	text := pdfText(t, render(t, PDF{Title: "All", MaxRows: 50}, SliceRows(rowsN(50))))
	if strings.Contains(text, "truncated") {
		t.Error("exactly MaxRows rows reported as truncated")
	}
}

func TestWritePDFDefaultCap(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("renders 5,000 rows")
	}
	pulled := 0
	var buf bytes.Buffer
	if err := WritePDF(&buf, "Everything", "", endless(&pulled), generatedAt); err != nil {
		t.Fatal(err)
	}
	if pulled != DefaultMaxRows+1 {
		t.Errorf("pulled %d rows, want %d", pulled, DefaultMaxRows+1)
	}
	text := pdfText(t, buf.Bytes())
	for _, want := range []string{"Report truncated after 5,000 rows", "Filters: none"} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
}

func TestPDFNoRows(t *testing.T) {
	t.Parallel()
	data := render(t, PDF{Title: "Nothing"}, SliceRows(nil))
	if got := pageCount(data); got != 1 {
		t.Errorf("%d pages, want 1", got)
	}
	if text := pdfText(t, data); !strings.Contains(text, "(No events match these filters.)Tj") {
		t.Error("empty report does not say so")
	}
}

func TestPDFArbitraryText(t *testing.T) {
	t.Parallel()
	rows := []Row{{
		ID:        "evt_1",
		Source:    "façade",
		Type:      "订单.创建 🚀",
		Status:    webhook.StatusFailed,
		LastError: "bad\x00byte \x1b \xff\xfe – “q” € \\",
	}}
	p := PDF{Title: "Relatório 事件 (all)", Filters: "type=订单.*", GeneratedAt: generatedAt}
	text := pdfText(t, render(t, p, SliceRows(rows)))
	for _, want := range []string{
		"(Relat\xf3rio ?? \\(all\\))Tj",
		"(fa\xe7ade)Tj",
		"(??.?? ?)Tj",
		"(bad byte   ?? \x96 \x93q\x94 \x80 \\\\)Tj", // controls, invalid UTF-8, Windows-1252 punctuation
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
}

func TestPDFCutsLongCells(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10_000)
	text := pdfText(t, render(t, PDF{Title: long}, SliceRows([]Row{{ID: "evt_1", LastError: long}})))
	if strings.Contains(text, strings.Repeat("x", 250)) {
		t.Error("a 10,000-character value was drawn uncut")
	}
	if !strings.Contains(text, "x...)Tj") {
		t.Error("cut cells do not end with ...")
	}
}

func TestPDFRowsErrorWritesNothing(t *testing.T) {
	t.Parallel()
	errStore := errors.New("store: connection lost")
	rows := func(yield func(Row, error) bool) {
		for _, r := range rowsN(10) {
			if !yield(r, nil) {
				return
			}
		}
		yield(Row{}, errStore)
	}
	var buf bytes.Buffer
	err := PDF{Title: "Broken"}.Write(&buf, rows)
	if !errors.Is(err, errStore) {
		t.Errorf("Write = %v, want the rows' error", err)
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %d bytes before failing, want none", buf.Len())
	}
}
