package catalog_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/mongotest"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store/mongo"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/webhook"
)

// TestDestinationPrograms checks that filters and transforms are compiled
// when saved, refused with their line and column when they do not
// compile, kept with the destination in the store, and compiled again
// (once) when another catalog loads them.
func TestDestinationPrograms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, filter, transform string
		field, msg              string // the expected FieldError, or none
	}{
		{name: "both", filter: `.payload.amount > 100`, transform: `.payload |= {amount}`},
		{name: "blank is none", filter: "  \n", transform: " "},
		{name: "filter syntax", filter: ".payload.amount >\n  )", field: "filter", msg: "line 2, column 3"},
		{name: "transform syntax", transform: "{a: ", field: "transform", msg: "line 1, column 5"},
		{name: "unknown function", filter: "nosuch(1)", field: "filter", msg: "nosuch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			ctx := context.Background()
			d := webhook.Destination{Name: "d", URL: "https://d.example.com/", Sources: []string{"github"}, Filter: tt.filter, Transform: tt.transform}
			saved, err := f.cat.PutDestination(ctx, d, true)
			if tt.field != "" {
				fes := catalog.FieldErrors(err)
				if len(fes) != 1 || fes[0].Field != tt.field || !strings.Contains(fes[0].Msg, tt.msg) {
					t.Fatalf("PutDestination = %v; want one error on %s containing %q", err, tt.field, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSpace(tt.filter)
			if strings.TrimSpace(saved.Filter) != want {
				t.Errorf("saved filter %q; want %q", saved.Filter, tt.filter)
			}
			check := func(cat *catalog.Catalog) {
				t.Helper()
				got, _ := cat.Destination("d")
				fp, tp := cat.Filter("d"), cat.Transform("d")
				if got.Filter == "" {
					if fp != nil {
						t.Errorf("a destination without a filter has a compiled one")
					}
				} else if fp == nil || fp.Source() != got.Filter {
					t.Errorf("compiled filter %v for %q", fp, got.Filter)
				}
				if got.Transform == "" {
					if tp != nil {
						t.Errorf("a destination without a transform has a compiled one")
					}
				} else if tp == nil || tp.Source() != got.Transform {
					t.Errorf("compiled transform %v for %q", tp, got.Transform)
				}
			}
			check(f.cat)
			other, err := catalog.New(ctx, f.store, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			check(other)
			if got, _ := other.Destination("d"); got.Filter != saved.Filter || got.Transform != saved.Transform {
				t.Errorf("stored destination %q / %q; want %q / %q", got.Filter, got.Transform, saved.Filter, saved.Transform)
			}
		})
	}
}

// TestDestinationProgramsInEveryStore saves a destination with a filter
// and a transform through one catalog and loads it with another, on each
// store driver: the programs are part of the stored document, so no
// driver needs to know them.
func TestDestinationProgramsInEveryStore(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) catalog.Store{
		"sqlite": func(t *testing.T) catalog.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookd.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"postgres": func(t *testing.T) catalog.Store {
			url, _ := pgtest.Schema(t, "catalog_routing")
			st, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"mongo": func(t *testing.T) catalog.Store {
			st, err := mongo.Open(context.Background(), mongotest.Database(t, "catalog_routing"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			ctx := context.Background()
			sources := []webhook.Source{{Name: "stripe", MaxBodyBytes: 1 << 20}}
			cat, err := catalog.New(ctx, st, sources, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			const filter, transform = `.payload.id == 12345678901234567890`, "{payload: {text: \"\\(.type)\"}}\n"
			if _, err := cat.PutDestination(ctx, webhook.Destination{Name: "d", URL: "https://d.example.com/", Sources: []string{"stripe"}, Filter: filter, Transform: transform}, true); err != nil {
				t.Fatal(err)
			}
			other, err := catalog.New(ctx, st, sources, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			d, ok := other.Destination("d")
			if !ok || d.Filter != filter || d.Transform != transform {
				t.Fatalf("loaded %+v; want filter %q and transform %q", d, filter, transform)
			}
			if f := other.Filter("d"); f == nil || f.Source() != filter {
				t.Errorf("loaded catalog has no compiled filter")
			}
			if tr := other.Transform("d"); tr == nil || tr.Source() != transform {
				t.Errorf("loaded catalog has no compiled transform")
			}
		})
	}
}
