package main

// Output helpers of the operator commands (status, events, listen): what
// differs on a terminal (progress bars) and what must be safe there (text
// that came from outside).

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether f is an *os.File on a terminal. Writers and
// readers that are not files (tests, pipes wrapped by cobra) are not.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// progress reports how far a long walk is: a bar on a terminal; elsewhere
// a plain line at most every progressEvery, and one at the end, so that
// logs show the walk without drowning in it.
type progress struct {
	w     io.Writer
	what  string
	bar   *progressbar.ProgressBar
	total int64
	done  int64
	last  time.Time
	ended bool
}

const progressEvery = time.Second

func newProgress(w io.Writer, what string) *progress {
	p := &progress{w: w, what: what, total: -1, last: time.Now()}
	if isTerminal(w) {
		p.bar = progressbar.NewOptions64(-1, barOptions(w, what)...)
	}
	return p
}

func barOptions(w io.Writer, what string) []progressbar.Option {
	return []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(65 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
	}
}

func (p *progress) setTotal(n int64) {
	p.total = n
	if p.bar != nil {
		p.bar.ChangeMax64(n)
	}
}

func (p *progress) add(n int) {
	p.done += int64(n)
	if p.bar != nil {
		_ = p.bar.Add(n) // drawing is best effort
		return
	}
	if time.Since(p.last) >= progressEvery {
		p.line()
	}
}

func (p *progress) line() {
	p.last = time.Now()
	if p.total >= 0 {
		fmt.Fprintf(p.w, "%d of %d %s\n", p.done, p.total, p.what)
	} else {
		fmt.Fprintf(p.w, "%d %s\n", p.done, p.what)
	}
}

// finish ends the bar, or prints the final plain line. Idempotent.
func (p *progress) finish() {
	if p.ended {
		return
	}
	p.ended = true
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	if p.done > 0 {
		p.line()
	}
}

// progressBar is a bar over a known count on a terminal, and nil (every
// method a no-op) elsewhere, where callers print a line per item instead.
type progressBar struct{ bar *progressbar.ProgressBar }

func newProgressBar(w io.Writer, max int64, what string) *progressBar {
	if !isTerminal(w) {
		return nil
	}
	return &progressBar{bar: progressbar.NewOptions64(max, barOptions(w, what)...)}
}

func (b *progressBar) add(n int) {
	if b != nil {
		_ = b.bar.Add(n)
	}
}

// println writes a line above the bar (which redraws at the next add).
func (b *progressBar) println(w io.Writer, line string) {
	if b != nil {
		_ = b.bar.Clear()
	}
	fmt.Fprintln(w, line)
}

func (b *progressBar) finish() {
	if b != nil {
		_ = b.bar.Finish()
	}
}

// spinner shows that a single long request is under way, on a terminal
// only: one request has no steps to count.
type spinner struct{ bar *progressbar.ProgressBar }

func newSpinner(w io.Writer, what string) *spinner {
	if !isTerminal(w) {
		return &spinner{}
	}
	return &spinner{bar: progressbar.NewOptions64(-1, append(barOptions(w, what), progressbar.OptionSetRenderBlankState(true))...)}
}

func (s *spinner) finish() {
	if s.bar != nil {
		_ = s.bar.Finish()
		s.bar = nil
	}
}

// table prints aligned columns page by page without holding every row:
// column widths only grow, so rows of a later, wider page shift right
// rather than the whole listing waiting for the last page. The last column
// is not padded. Cells pass through safeText.
type table struct {
	w       io.Writer
	widths  []int
	pending [][]string
}

func newTable(w io.Writer) *table { return &table{w: w} }

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = safeText(c)
	}
	t.pending = append(t.pending, cells)
}

// flush writes the rows given since the last flush.
func (t *table) flush() error {
	for _, r := range t.pending {
		for i, c := range r {
			if i == len(r)-1 {
				break
			}
			if i >= len(t.widths) {
				t.widths = append(t.widths, 0)
			}
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range t.pending {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", t.widths[i]-utf8.RuneCountInString(c)+2))
		}
		b.WriteString("\n")
	}
	t.pending = t.pending[:0]
	_, err := io.WriteString(t.w, trimLineEnds(b.String()))
	return err
}

// trimLineEnds removes the spaces a row with an empty last cell leaves.
func trimLineEnds(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = strings.TrimRight(l[:len(l)-1], " ") + "\n"
		}
	}
	return strings.Join(lines, "")
}

// safeText makes text from the outside harmless on a terminal: control
// characters other than newline and tab (escape sequences could move the
// cursor, retitle the window or hide lines) are shown as \x1b or \u009b.
func safeText(s string) string {
	clean := true
	for _, r := range s {
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || r == utf8.RuneError) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case unicode.IsControl(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// shorten cuts s to n runes on one line, marking the cut.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// indentLines prefixes every line of s.
func indentLines(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

// plural is "1 delivery", "2 deliveries", "0 attempts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	switch {
	case strings.HasSuffix(noun, "y"):
		noun = strings.TrimSuffix(noun, "y") + "ies"
	default:
		noun += "s"
	}
	return strconv.Itoa(n) + " " + noun
}
