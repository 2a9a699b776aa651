// Package ordering computes the ordering key of an event for an ordered
// destination (webhook.Ordering): the name of the sequence the event's
// delivery joins. It runs at ingest, before the 202, once per event and
// ordered destination; the store enforces the order at claim time.
//
// A key program reads the same input as a destination filter
// (route.FilterInput), so that what a person writes for one works for the
// other.
package ordering

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hookd/hookd/internal/expr"
	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/webhook"
)

// Timeout bounds one key program's run: it runs on the ingest path, like a
// filter.
const Timeout = route.FilterTimeout

// MaxKeyBytes bounds a key. A longer one is refused (the event goes to the
// fallback key), since keys are stored with every delivery and indexed.
const MaxKeyBytes = 512

// ErrNoKey means the program produced no value, or null.
var ErrNoKey = errors.New("the ordering key program produced no value (or null)")

// Compile compiles a key program. The error is an *expr.SyntaxError.
func Compile(src string) (*expr.Program, error) {
	p, err := expr.Compile(src)
	if err != nil {
		return nil, err
	}
	return p.WithTimeout(Timeout), nil
}

// Keyer computes keys, compiling each distinct program once. Programs
// come from the catalog, which may swap a destination at any moment, so
// they are cached by their text. It is safe for concurrent use.
type Keyer struct {
	mu    sync.Mutex
	progs map[string]*expr.Program
}

// NewKeyer returns an empty Keyer.
func NewKeyer() *Keyer { return &Keyer{progs: map[string]*expr.Program{}} }

// maxCached bounds the cache; past it the cache starts over (programs are
// few and change rarely, so this only guards against a churn of edits).
const maxCached = 1024

func (k *Keyer) program(src string) (*expr.Program, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p, ok := k.progs[src]; ok {
		return p, nil
	}
	p, err := Compile(src)
	if err != nil {
		return nil, err
	}
	if len(k.progs) >= maxCached {
		k.progs = map[string]*expr.Program{}
	}
	k.progs[src] = p
	return p, nil
}

// Key returns the ordering key of an event for destination d, which must
// be ordered (d.Ordering != nil). A destination without a key program is
// one sequence: its key is "". input is route.FilterInput of the event,
// called at most once and only when a program must run.
//
// The key is the program's first value: a string as it is, anything else
// as its JSON text (so 42 and "42" are the same key only if the program
// makes them so: 42 becomes "42", "42" stays "42"). On an error the key is
// "" (the fallback sequence) and the error says why, for a warning.
func (k *Keyer) Key(ctx context.Context, d *webhook.Destination, input func() map[string]any) (string, error) {
	if d.Ordering == nil || d.Ordering.Key == "" {
		return "", nil
	}
	p, err := k.program(d.Ordering.Key)
	if err != nil {
		return "", fmt.Errorf("ordering key of %s: %w", d.Name, err)
	}
	v, err := p.First(ctx, input())
	if errors.Is(err, expr.ErrNoOutput) || (err == nil && v == nil) {
		return "", fmt.Errorf("ordering key of %s: %w", d.Name, ErrNoKey)
	}
	if err != nil {
		return "", fmt.Errorf("ordering key of %s: %w", d.Name, err)
	}
	key, ok := v.(string)
	if !ok {
		b, err := expr.Encode(v)
		if err != nil {
			return "", fmt.Errorf("ordering key of %s: %w", d.Name, err)
		}
		key = string(b)
	}
	if len(key) > MaxKeyBytes {
		return "", fmt.Errorf("ordering key of %s: the key is over %d bytes", d.Name, MaxKeyBytes)
	}
	return key, nil
}

// Input builds a key program's input lazily: the body is parsed at most
// once per event, whatever the number of ordered destinations.
func Input(ev webhook.Event) func() map[string]any {
	var in map[string]any
	return func() map[string]any {
		if in == nil {
			re := route.Event{Source: ev.Source, Type: ev.Type, Headers: ev.Headers, Body: ev.Body}
			in = route.FilterInput(re, route.ParsePayload(ev.Body))
		}
		return in
	}
}
