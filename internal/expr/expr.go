// Package expr compiles and runs the jq programs (gojq) that destinations
// use for payload filters, transforms and ordering keys.
//
// jq was chosen over a home-made language because it is already the
// language people reach for to query and reshape JSON, and gojq is a pure
// Go implementation with no I/O of its own: a program compiled here has no
// environment ($ENV is empty), no input beyond the value it is given, no
// modules, and no clock-independent side effects. What a program may cost
// is bounded by a time limit (checked by gojq at every step) and by the
// size of what it returns; memory is bounded by the time limit in
// practice, since a program allocates only while it runs.
//
// Programs are compiled once, when a destination is saved or loaded, and
// run many times; a *Program is safe for concurrent use.
package expr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// Limits of a program and of a run.
const (
	// MaxSourceBytes bounds a program's text.
	MaxSourceBytes = 16 << 10
	// DefaultTimeout bounds one run; a filter or transform that needs
	// longer is treated as failed rather than allowed to stall a worker.
	DefaultTimeout = 100 * time.Millisecond
	// MaxOutputBytes bounds the JSON encoding of a run's result.
	MaxOutputBytes = 8 << 20
)

// ErrTimeout is returned when a run exceeds its time limit.
var ErrTimeout = errors.New("time limit exceeded")

// ErrNoOutput is returned by First when the program produced no value
// (jq's empty).
var ErrNoOutput = errors.New("the program produced no value")

// ErrTooLarge is returned when a result's JSON exceeds MaxOutputBytes.
var ErrTooLarge = fmt.Errorf("the result is over %d bytes", MaxOutputBytes)

// SyntaxError is a program that does not compile, with the position of
// the problem so an editor can point at it.
type SyntaxError struct {
	// Offset is the byte offset in the program where the problem was
	// found; Line and Column (1-based, columns in characters) say the same
	// for people. All three are 0 when the problem has no position (an
	// unknown function, for example).
	Offset, Line, Column int
	Msg                  string
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Program is a compiled jq program.
type Program struct {
	src     string
	code    *gojq.Code
	timeout time.Duration
}

// Compile parses and compiles src. The error is a *SyntaxError.
func Compile(src string) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &SyntaxError{Msg: "the program is empty"}
	}
	if len(src) > MaxSourceBytes {
		return nil, &SyntaxError{Msg: fmt.Sprintf("the program is over %d bytes", MaxSourceBytes)}
	}
	q, err := gojq.Parse(src)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			// gojq reports the offset after the offending token; point
			// at its start.
			return nil, positioned(src, pe.Offset-len(pe.Token), parseMessage(pe))
		}
		return nil, &SyntaxError{Msg: err.Error()}
	}
	// No options: no environment, no input iterator, no module loader.
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, &SyntaxError{Msg: err.Error()}
	}
	return &Program{src: src, code: code, timeout: DefaultTimeout}, nil
}

// MustCompile is Compile for programs known at build time.
func MustCompile(src string) *Program {
	p, err := Compile(src)
	if err != nil {
		panic(fmt.Sprintf("expr: %q: %v", src, err))
	}
	return p
}

// Source returns the program's text as compiled.
func (p *Program) Source() string { return p.src }

// WithTimeout returns a copy of p whose runs are limited to d.
func (p *Program) WithTimeout(d time.Duration) *Program {
	q := *p
	q.timeout = d
	return &q
}

// First runs p on input and returns its first value. input must be made
// of the types Decode returns (nil, bool, json.Number, float64, int,
// string, []any, map[string]any).
func (p *Program) First(ctx context.Context, input any) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	iter := p.code.RunWithContext(ctx, input)
	v, ok := iter.Next()
	if !ok {
		return nil, ErrNoOutput
	}
	if err, isErr := v.(error); isErr {
		return nil, runError(ctx, err)
	}
	return v, nil
}

// Truthy runs p on input and reports whether its first value is neither
// false nor null, jq's notion of truth; a program that produces nothing
// is false.
func (p *Program) Truthy(ctx context.Context, input any) (bool, error) {
	v, err := p.First(ctx, input)
	switch {
	case errors.Is(err, ErrNoOutput):
		return false, nil
	case err != nil:
		return false, err
	}
	return v != nil && v != false, nil
}

// Decode parses JSON into the values programs read, keeping numbers as
// json.Number so that large integers (ids) survive unchanged.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// Encode is the JSON of a program's value, bounded by MaxOutputBytes.
func Encode(v any) ([]byte, error) {
	b, err := gojq.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxOutputBytes {
		return nil, ErrTooLarge
	}
	return b, nil
}

// runError turns what gojq yields as an error into one that says what
// went wrong without gojq's internals.
func runError(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return ErrTimeout
	}
	var halt *gojq.HaltError
	if errors.As(err, &halt) {
		if v := halt.Value(); v != nil {
			if s, ok := v.(string); ok {
				return errors.New(s)
			}
			return fmt.Errorf("halted with %s", gojq.Preview(v))
		}
		return errors.New("halted")
	}
	return err
}

// parseMessage reads a gojq parse error without its offset phrasing.
func parseMessage(pe *gojq.ParseError) string {
	if pe.Token == "" {
		return "unexpected end of program"
	}
	return fmt.Sprintf("unexpected token %q", pe.Token)
}

// positioned builds a SyntaxError at byte offset off of src.
func positioned(src string, off int, msg string) *SyntaxError {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	before := src[:off]
	line := strings.Count(before, "\n") + 1
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	return &SyntaxError{Offset: off, Line: line, Column: col, Msg: msg}
}
