package catalog_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/signing"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/webhook"
)

type fixture struct {
	cat   *catalog.Catalog
	store *sqlite.Store
	path  string
}

func setup(t *testing.T) fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hookd.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fileSources := []webhook.Source{{Name: "github", MaxBodyBytes: 1 << 20}}
	fileDests := []webhook.Destination{{Name: "ci", URL: "https://ci.example.com/hooks", Sources: []string{"github"}, Secret: signing.NewSecret(), Timeout: time.Second, MaxInFlight: 4}}
	cat, err := catalog.New(context.Background(), st, fileSources, fileDests, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{cat: cat, store: st, path: path}
}

func TestFileEntriesAreReadOnly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if _, err := f.cat.PutSource(ctx, webhook.Source{Name: "github"}, false); !errors.Is(err, catalog.ErrReadOnly) || !errors.Is(err, webhook.ErrConflict) {
		t.Fatalf("PutSource(file source) = %v, want ErrReadOnly", err)
	}
	if err := f.cat.DeleteDestination(ctx, "ci"); !errors.Is(err, catalog.ErrReadOnly) {
		t.Fatalf("DeleteDestination(file destination) = %v, want ErrReadOnly", err)
	}
	if f.cat.SourceOrigin("github") != catalog.OriginFile || f.cat.DestinationOrigin("ci") != catalog.OriginFile {
		t.Fatalf("origins = %q, %q", f.cat.SourceOrigin("github"), f.cat.DestinationOrigin("ci"))
	}
}

func TestAPIEntriesLiveAndPersist(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if _, err := f.cat.PutSource(ctx, webhook.Source{Name: "stripe"}, true); err != nil {
		t.Fatal(err)
	}
	src, ok := f.cat.Source("stripe")
	if !ok || src.MaxBodyBytes != catalog.DefaultMaxBodyBytes {
		t.Fatalf("new source = %+v, %v; want live with defaults", src, ok)
	}
	d, err := f.cat.PutDestination(ctx, webhook.Destination{Name: "billing", URL: "https://billing.example.com/in", Sources: []string{"stripe"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.NewSigner(d.Secret); err != nil || d.Timeout != catalog.DefaultTimeout || d.MaxInFlight != catalog.DefaultMaxInFlight {
		t.Fatalf("destination = %+v; want a generated secret and defaults", d)
	}
	if got, ok := f.cat.Destination("billing"); !ok || got.Secret != d.Secret {
		t.Fatalf("destination not live: %+v, %v", got, ok)
	}
	if n := len(f.cat.Destinations()); n != 2 {
		t.Fatalf("destinations = %d, want 2", n)
	}
	if _, err := f.cat.PutDestination(ctx, d, true); !errors.Is(err, webhook.ErrConflict) {
		t.Fatalf("create twice = %v, want ErrConflict", err)
	}
	d.URL = "https://billing.example.com/v2"
	if _, err := f.cat.PutDestination(ctx, d, false); err != nil {
		t.Fatal(err)
	}

	// A second catalog over the same store (a restart) sees the same.
	again, err := catalog.New(ctx, f.store, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := again.Destination("billing"); !ok || got.URL != "https://billing.example.com/v2" || got.Secret != d.Secret {
		t.Fatalf("after reload = %+v, %v", got, ok)
	}

	if err := f.cat.DeleteSource(ctx, "stripe"); !errors.Is(err, webhook.ErrConflict) || !strings.Contains(err.Error(), "billing") {
		t.Fatalf("DeleteSource with a subscriber = %v, want a conflict naming it", err)
	}
	if err := f.cat.DeleteDestination(ctx, "billing"); err != nil {
		t.Fatal(err)
	}
	if err := f.cat.DeleteSource(ctx, "stripe"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.cat.Source("stripe"); ok {
		t.Fatal("deleted source still live")
	}
	if err := f.cat.DeleteSource(ctx, "stripe"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("delete twice = %v, want ErrNotFound", err)
	}
}

func TestValidationNamesTheField(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	good := webhook.Destination{Name: "x", URL: "https://x.example.com", Sources: []string{"github"}}
	tests := []struct {
		name  string
		edit  func(d *webhook.Destination)
		field string
	}{
		{"no name", func(d *webhook.Destination) { d.Name = "" }, "name"},
		{"bad name", func(d *webhook.Destination) { d.Name = "a b" }, "name"},
		{"no url", func(d *webhook.Destination) { d.URL = "" }, "url"},
		{"ftp url", func(d *webhook.Destination) { d.URL = "ftp://x.example.com" }, "url"},
		{"relative url", func(d *webhook.Destination) { d.URL = "/hooks" }, "url"},
		{"no sources", func(d *webhook.Destination) { d.Sources = nil }, "sources"},
		{"unknown source", func(d *webhook.Destination) { d.Sources = []string{"gitlab"} }, "sources[0]"},
		{"bad secret", func(d *webhook.Destination) { d.Secret = "hunter2" }, "secret"},
		{"timeout too long", func(d *webhook.Destination) { d.Timeout = time.Hour }, "timeout"},
		{"negative in flight", func(d *webhook.Destination) { d.MaxInFlight = -1 }, "max_in_flight"},
		{"empty event type", func(d *webhook.Destination) { d.EventTypes = []string{""} }, "event_types[0]"},
		{"bad header name", func(d *webhook.Destination) { d.Headers = map[string]string{"X Team": "a"} }, `headers["X Team"]`},
		{"negative rate", func(d *webhook.Destination) { d.RateLimit = -1 }, "rate_limit"},
		{"previous secret without end", func(d *webhook.Destination) { d.PreviousSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, "previous_secret_until"},
		{"bad previous secret", func(d *webhook.Destination) {
			d.PreviousSecret, d.PreviousSecretUntil = "nope", time.Now().Add(time.Hour)
		}, "previous_secret"},
		{"client key alone", func(d *webhook.Destination) { d.ClientKey = "x" }, "client_key"},
		{"TLS material over http", func(d *webhook.Destination) { d.URL, d.CACert = "http://x.example.com", "x" }, "url"},
	}
	for _, tt := range tests {
		d := good
		tt.edit(&d)
		_, err := f.cat.PutDestination(ctx, d, true)
		if !errors.Is(err, webhook.ErrInvalid) || !strings.Contains(err.Error(), tt.field+":") {
			t.Errorf("%s: err = %v, want ErrInvalid naming %q", tt.name, err, tt.field)
		}
	}
	for _, s := range []webhook.Source{
		{Name: "s1", Verify: webhook.Verify{Type: "github"}},
		{Name: "s2", Verify: webhook.Verify{Type: "gitlab"}},
		{Name: "s3", MaxBodyBytes: -1},
		{Name: "s4", Verify: webhook.Verify{Type: "hmac", Secret: "x"}},                              // no header
		{Name: "s5", Verify: webhook.Verify{Type: "basic", Secret: "x"}},                             // no username
		{Name: "s6", Verify: webhook.Verify{Type: "token", Secret: "x", Header: "A", Query: "b"}},    // both
		{Name: "s7", Verify: webhook.Verify{AllowIPs: []string{"10.0.0.0/33"}}},                      // bad CIDR
		{Name: "s8", Verify: webhook.Verify{Type: "stripe", Secret: "x", Tolerance: 48 * time.Hour}}, // too long
		{Name: "s9", Verify: webhook.Verify{Type: "github", Secret: "x", Algorithm: "sha1"}},         // not its field
		{Name: "s10", RateLimit: -1},
		{Name: "s11", Verify: webhook.Verify{Type: "standard-webhooks", Secret: "short"}},
	} {
		if _, err := f.cat.PutSource(ctx, s, true); !errors.Is(err, webhook.ErrInvalid) {
			t.Errorf("PutSource(%+v) = %v, want ErrInvalid", s, err)
		}
	}
	if n := len(f.cat.Destinations()); n != 1 {
		t.Fatalf("rejected destinations changed the catalog: %d", n)
	}
}
