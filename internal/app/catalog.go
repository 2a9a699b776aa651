package app

import (
	"context"
	"fmt"
	"io"

	"github.com/hookd/hookd/internal/signing"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// catalog is the immutable set of sources and destinations from the
// configuration file. It satisfies the Catalog interfaces of ingest and
// delivery.
type catalog struct {
	sources      map[string]webhook.Source
	destinations []webhook.Destination
	byName       map[string]webhook.Destination
}

func (c *catalog) Source(name string) (webhook.Source, bool) {
	s, ok := c.sources[name]
	return s, ok
}

func (c *catalog) Destinations() []webhook.Destination { return c.destinations }

func (c *catalog) Destination(name string) (webhook.Destination, bool) {
	d, ok := c.byName[name]
	return d, ok
}

// secretStore is where generated signing secrets are kept.
type secretStore interface {
	SettingPutIfAbsent(ctx context.Context, key, value string) (string, error)
}

var _ secretStore = store.Store(nil)

// newCatalog builds the catalog, giving every destination without a
// configured secret a generated one that is stored, so it stays the same
// across restarts. A secret generated now is printed once to out, the only
// place it is ever shown.
func newCatalog(ctx context.Context, sources []webhook.Source, dests []webhook.Destination, secrets secretStore, out io.Writer) (*catalog, error) {
	c := &catalog{sources: map[string]webhook.Source{}, byName: map[string]webhook.Destination{}}
	for _, s := range sources {
		c.sources[s.Name] = s
	}
	for _, d := range dests {
		if d.Secret == "" {
			fresh := signing.NewSecret()
			stored, err := secrets.SettingPutIfAbsent(ctx, "destination_secret:"+d.Name, fresh)
			if err != nil {
				return nil, fmt.Errorf("destination %s: store generated secret: %w", d.Name, err)
			}
			if stored == fresh && out != nil {
				fmt.Fprintf(out, "hookd: generated signing secret for destination %q (shown once; set `secret:` in the config file to choose your own):\n  %s\n", d.Name, stored)
			}
			d.Secret = stored
		}
		c.destinations = append(c.destinations, d)
		c.byName[d.Name] = d
	}
	return c, nil
}
