// Package catalog owns the live set of sources and destinations: those
// declared in the configuration file (read-only here: change the file and
// restart) and those managed through the API (stored in the store, changed
// at run time). Readers on the hot path (ingest, delivery) get an immutable
// snapshot through an atomic pointer, so a change never blocks them and
// never shows them a half-applied state.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// Store is the part of the store the catalog needs.
type Store interface {
	CatalogList(ctx context.Context, kind store.CatalogKind) ([]store.CatalogEntry, error)
	CatalogPut(ctx context.Context, params store.CatalogPutParams) error
	CatalogDelete(ctx context.Context, kind store.CatalogKind, name string) error
}

// Origin says where an entry comes from.
type Origin string

// The origins.
const (
	// OriginFile entries come from the configuration file and are read-only
	// through the API.
	OriginFile Origin = "file"
	// OriginAPI entries were created through the API.
	OriginAPI Origin = "api"
)

// ErrReadOnly is returned when the API tries to change an entry declared in
// the configuration file. It wraps webhook.ErrConflict.
var ErrReadOnly = fmt.Errorf("%w: declared in the configuration file; change it there and restart", webhook.ErrConflict)

// Defaults applied to entries created without them.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultTimeout      = 30 * time.Second
	DefaultMaxInFlight  = 16
)

type snapshot struct {
	sources      map[string]webhook.Source
	sourceOrigin map[string]Origin
	destinations []webhook.Destination
	byName       map[string]webhook.Destination
	destOrigin   map[string]Origin
	// filters and transforms hold the destinations' compiled programs by
	// name, compiled once per snapshot rather than per event.
	filters    map[string]*route.Filter
	transforms map[string]*route.Transform
}

// Catalog is the live catalog. Its read methods are safe for concurrent use
// and never block; its write methods are serialised.
type Catalog struct {
	store Store
	now   func() time.Time
	file  struct {
		sources      []webhook.Source
		destinations []webhook.Destination
	}
	cur atomic.Pointer[snapshot]
	mu  sync.Mutex // serialises writers
}

// New loads the API-managed entries from the store and merges them with the
// file's. A file entry wins over a stored one of the same name.
func New(ctx context.Context, st Store, sources []webhook.Source, destinations []webhook.Destination, now func() time.Time) (*Catalog, error) {
	if now == nil {
		now = time.Now
	}
	c := &Catalog{store: st, now: now}
	c.file.sources, c.file.destinations = sources, destinations
	if err := c.Reload(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload rebuilds the snapshot from the file entries and the store.
func (c *Catalog) Reload(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reload(ctx)
}

func (c *Catalog) reload(ctx context.Context) error {
	snap := &snapshot{
		sources: map[string]webhook.Source{}, sourceOrigin: map[string]Origin{},
		byName: map[string]webhook.Destination{}, destOrigin: map[string]Origin{},
	}
	for _, s := range c.file.sources {
		snap.sources[s.Name], snap.sourceOrigin[s.Name] = s, OriginFile
	}
	for _, d := range c.file.destinations {
		snap.byName[d.Name], snap.destOrigin[d.Name] = d, OriginFile
	}
	stored, err := c.store.CatalogList(ctx, store.CatalogSource)
	if err != nil {
		return fmt.Errorf("catalog: load sources: %w", err)
	}
	for _, e := range stored {
		if _, ok := snap.sources[e.Name]; ok {
			continue
		}
		var s webhook.Source
		if err := json.Unmarshal(e.Doc, &s); err != nil {
			return fmt.Errorf("catalog: source %s: %w", e.Name, err)
		}
		snap.sources[s.Name], snap.sourceOrigin[s.Name] = s, OriginAPI
	}
	stored, err = c.store.CatalogList(ctx, store.CatalogDestination)
	if err != nil {
		return fmt.Errorf("catalog: load destinations: %w", err)
	}
	for _, e := range stored {
		if _, ok := snap.byName[e.Name]; ok {
			continue
		}
		var d webhook.Destination
		if err := json.Unmarshal(e.Doc, &d); err != nil {
			return fmt.Errorf("catalog: destination %s: %w", e.Name, err)
		}
		snap.byName[d.Name], snap.destOrigin[d.Name] = d, OriginAPI
	}
	names := make([]string, 0, len(snap.byName))
	for n := range snap.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		snap.destinations = append(snap.destinations, snap.byName[n])
	}
	compilePrograms(snap, c.cur.Load())
	c.cur.Store(snap)
	return nil
}

// Source returns a source by name.
func (c *Catalog) Source(name string) (webhook.Source, bool) {
	s, ok := c.cur.Load().sources[name]
	return s, ok
}

// Sources returns every source by name, with its origin.
func (c *Catalog) Sources() []Entry[webhook.Source] {
	snap := c.cur.Load()
	out := make([]Entry[webhook.Source], 0, len(snap.sources))
	for n, s := range snap.sources {
		out = append(out, Entry[webhook.Source]{Value: s, Origin: snap.sourceOrigin[n]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value.Name < out[j].Value.Name })
	return out
}

// Entry is a catalog value with where it comes from.
type Entry[T any] struct {
	Value  T
	Origin Origin
}

// Destinations returns every destination by name. The slice is shared and
// must not be modified.
func (c *Catalog) Destinations() []webhook.Destination { return c.cur.Load().destinations }

// Destination returns a destination by name.
func (c *Catalog) Destination(name string) (webhook.Destination, bool) {
	d, ok := c.cur.Load().byName[name]
	return d, ok
}

// Filter returns a destination's compiled filter, nil when it has none.
// It is compiled from the Filter of the destination that Destinations
// and Destination return in the same snapshot; a caller holding an older
// or newer copy should compare Filter.Source with its Filter.
func (c *Catalog) Filter(name string) *route.Filter { return c.cur.Load().filters[name] }

// Transform returns a destination's compiled transform, nil when it has
// none (see Filter).
func (c *Catalog) Transform(name string) *route.Transform { return c.cur.Load().transforms[name] }

// compilePrograms compiles the snapshot's filters and transforms. Both
// were validated when saved; one that no longer compiles (stored by an
// older version) is left out, and its users compile it themselves and
// report the error where it matters (a filter error at ingest, a
// transform error on the attempt). Programs unchanged since prev (nil at
// first) are reused.
func compilePrograms(snap, prev *snapshot) {
	snap.filters, snap.transforms = map[string]*route.Filter{}, map[string]*route.Transform{}
	for _, d := range snap.destinations {
		if d.Filter != "" {
			if f := prevFilter(prev, d); f != nil {
				snap.filters[d.Name] = f
			} else if f, err := route.CompileFilter(d.Filter); err == nil {
				snap.filters[d.Name] = f
			}
		}
		if d.Transform != "" {
			if t := prevTransform(prev, d); t != nil {
				snap.transforms[d.Name] = t
			} else if t, err := route.CompileTransform(d.Transform); err == nil {
				snap.transforms[d.Name] = t
			}
		}
	}
}

func prevFilter(prev *snapshot, d webhook.Destination) *route.Filter {
	if prev == nil {
		return nil
	}
	if f := prev.filters[d.Name]; f != nil && f.Source() == d.Filter {
		return f
	}
	return nil
}

func prevTransform(prev *snapshot, d webhook.Destination) *route.Transform {
	if prev == nil {
		return nil
	}
	if t := prev.transforms[d.Name]; t != nil && t.Source() == d.Transform {
		return t
	}
	return nil
}

// DestinationOrigin says where a destination comes from ("" if unknown).
func (c *Catalog) DestinationOrigin(name string) Origin { return c.cur.Load().destOrigin[name] }

// SourceOrigin says where a source comes from ("" if unknown).
func (c *Catalog) SourceOrigin(name string) Origin { return c.cur.Load().sourceOrigin[name] }

// PutSource creates (create set) or replaces an API-managed source.
func (c *Catalog) PutSource(ctx context.Context, s webhook.Source, create bool) (webhook.Source, error) {
	s, err := NormalizeSource(s)
	if err != nil {
		return s, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.SourceOrigin(s.Name) == OriginFile {
		return s, ErrReadOnly
	}
	doc, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	if err := c.store.CatalogPut(ctx, store.CatalogPutParams{Kind: store.CatalogSource, Name: s.Name, Doc: doc, Create: create, Now: c.now()}); err != nil {
		return s, err
	}
	return s, c.reload(ctx)
}

// DeleteSource removes an API-managed source. Destinations naming it must
// be changed first (webhook.ErrConflict otherwise), so that none is left
// subscribed to nothing.
func (c *Catalog) DeleteSource(ctx context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.SourceOrigin(name) {
	case OriginFile:
		return ErrReadOnly
	case "":
		return fmt.Errorf("source %q: %w", name, webhook.ErrNotFound)
	}
	for _, d := range c.Destinations() {
		for _, s := range d.Sources {
			if s == name {
				return fmt.Errorf("%w: destination %q is subscribed to source %q", webhook.ErrConflict, d.Name, name)
			}
		}
	}
	if err := c.store.CatalogDelete(ctx, store.CatalogSource, name); err != nil {
		return err
	}
	return c.reload(ctx)
}

// PutDestination creates (create set) or replaces an API-managed
// destination, generating its secret when absent.
func (c *Catalog) PutDestination(ctx context.Context, d webhook.Destination, create bool) (webhook.Destination, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, err := NormalizeDestination(d, func(s string) bool { _, ok := c.Source(s); return ok })
	if err != nil {
		return d, err
	}
	if c.DestinationOrigin(d.Name) == OriginFile {
		return d, ErrReadOnly
	}
	doc, err := json.Marshal(d)
	if err != nil {
		return d, err
	}
	if err := c.store.CatalogPut(ctx, store.CatalogPutParams{Kind: store.CatalogDestination, Name: d.Name, Doc: doc, Create: create, Now: c.now()}); err != nil {
		return d, err
	}
	return d, c.reload(ctx)
}

// DeleteDestination removes an API-managed destination. Its deliveries
// still waiting end in permanent_failure at their next attempt ("no longer
// configured"), where a replay can pick them up. Its circuit breaker is
// reset (see resetCircuit).
func (c *Catalog) DeleteDestination(ctx context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.DestinationOrigin(name) {
	case OriginFile:
		return ErrReadOnly
	case "":
		return fmt.Errorf("destination %q: %w", name, webhook.ErrNotFound)
	}
	if err := c.store.CatalogDelete(ctx, store.CatalogDestination, name); err != nil && !errors.Is(err, webhook.ErrNotFound) {
		return err
	}
	if err := c.resetCircuit(ctx, name); err != nil {
		return errors.Join(fmt.Errorf("destination %q deleted, but its circuit breaker state was not reset: %w", name, err), c.reload(ctx))
	}
	return c.reload(ctx)
}

// circuitStates is the part of a store that keeps the destinations'
// circuit breakers; every store.Store is one.
type circuitStates interface {
	DestinationStateGet(ctx context.Context, destination string) (store.DestinationState, error)
	DestinationStatePut(ctx context.Context, state store.DestinationState) (store.DestinationState, error)
}

// resetCircuit closes a deleted destination's circuit and clears its
// failures, so that a destination created later under the same name does
// not start disabled or open. It stores a closed state rather than
// nothing: a new version is what tells every process's delivery engine
// (at its next state refresh) to forget what it held for the old one.
func (c *Catalog) resetCircuit(ctx context.Context, name string) error {
	states, ok := c.store.(circuitStates)
	if !ok {
		return nil
	}
	const tries = 5
	for try := 1; ; try++ {
		cur, err := states.DestinationStateGet(ctx, name)
		if errors.Is(err, webhook.ErrNotFound) {
			return nil // never failed
		}
		if err != nil {
			return err
		}
		if cur.Circuit == store.CircuitClosed && cur.ConsecutiveFailures == 0 && cur.Trips == 0 && cur.FailingSince.IsZero() {
			return nil
		}
		_, err = states.DestinationStatePut(ctx, store.DestinationState{
			Destination: name, Circuit: store.CircuitClosed, UpdatedAt: c.now().UTC(), Version: cur.Version,
		})
		if err == nil || !errors.Is(err, webhook.ErrConflict) || try == tries {
			return err
		}
	}
}
