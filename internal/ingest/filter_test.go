package ingest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/webhook"
)

// reports keeps the Reports an Observer hears.
type reports struct {
	mu  sync.Mutex
	all []Report
}

func (r *reports) Ingested(_ *http.Request, rep Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, rep)
}

func (r *reports) last() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.all[len(r.all)-1]
}

var filterCatalog = fakeCatalog{
	sources: map[string]webhook.Source{"shop": {Name: "shop", MaxBodyBytes: 1 << 20}},
	destinations: []webhook.Destination{
		{Name: "big", Sources: []string{"shop"}, Filter: `.payload.total > 100`},
		{Name: "eu", Sources: []string{"shop"}, EventTypes: []string{"orders.*"}, Filter: `.headers["x-region"] == "eu"`},
		{Name: "all", Sources: []string{"shop"}},
		{Name: "broken", Sources: []string{"shop"}, Filter: `.payload.total + "x"`},
		{Name: "slow", Sources: []string{"shop"}, Filter: `def f: f; f`},
		{Name: "uncompilable", Sources: []string{"shop"}, Filter: `.a |`}, // stored by an older version
		{Name: "typed", Sources: []string{"shop"}, Filter: `.type == "orders.create" and .source == "shop"`},
	},
}

// TestFilters checks that a destination receives an event only when its
// filter is true, and that a filter that fails (an error, its time limit,
// a program that no longer compiles) only keeps the event from that
// destination: the event is still accepted, and the failure is reported.
func TestFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		header  map[string]string
		body    string
		want    []string
		failing []string
	}{
		{
			name: "big eu order", header: map[string]string{"X-Shopify-Topic": "orders.create", "X-Region": "eu"},
			body: `{"total":250}`, want: []string{"big", "eu", "all", "typed"},
			failing: []string{"broken", "slow", "uncompilable"},
		},
		{
			name: "small us order", header: map[string]string{"X-Shopify-Topic": "orders.create", "X-Region": "us"},
			body: `{"total":5}`, want: []string{"all", "typed"},
			failing: []string{"broken", "slow", "uncompilable"},
		},
		{
			name: "not JSON", header: map[string]string{"X-Shopify-Topic": "carts.update", "X-Region": "eu", "Content-Type": "text/plain"},
			body: `total=250`, want: []string{"all", "broken"}, // payload null: null + "x" is "x", true
			failing: []string{"slow", "uncompilable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setupCatalog(t, nil, filterCatalog)
			obs := &reports{}
			h := New(Options{Store: f.store, Queue: f.queue, Catalog: filterCatalog, Observer: obs})
			if err := h.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Stop)
			mux := http.NewServeMux()
			mux.Handle("POST /webhook/{source}", h)
			header := map[string]string{"Content-Type": "application/json"}
			for k, v := range tt.header {
				header[k] = v
			}
			req, err := http.NewRequest(http.MethodPost, "/webhook/shop", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			if w.Code != http.StatusAccepted {
				t.Fatalf("status %d; want 202 whatever the filters do", w.Code)
			}
			stored := f.store.stored()
			if len(stored) != 1 {
				t.Fatalf("stored %d events; want 1", len(stored))
			}
			var got []string
			for _, d := range stored[0].Deliveries {
				got = append(got, d.Destination)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("deliveries to %q; want %q", got, tt.want)
			}
			if rep := obs.last(); !slices.Equal(rep.FilterErrors, tt.failing) {
				t.Errorf("FilterErrors = %q; want %q", rep.FilterErrors, tt.failing)
			}
		})
	}
}

// BenchmarkServeFilter is BenchmarkServeFanOut with one of the eight
// destinations filtering on the payload: the body is parsed once, for it.
func BenchmarkServeFilter(b *testing.B) {
	cat := fakeCatalog{sources: map[string]webhook.Source{"shop": {Name: "shop", MaxBodyBytes: 1 << 20}}}
	for i, types := range [][]string{nil, {"orders.*"}, {"carts.*"}, nil, {"orders.create"}, {"*"}, {"refunds.*"}, nil} {
		cat.destinations = append(cat.destinations, webhook.Destination{Name: string(rune('a' + i)), Sources: []string{"shop"}, EventTypes: types})
	}
	cat.destinations[0].Filter = `.payload.total > 100 and .headers["content-type"] == "application/json"`
	benchServe(b, filterOnce{cat})
}

// filterOnce is a catalog that keeps compiled filters, as catalog.Catalog
// does, so that the benchmark does not measure compiling.
type filterOnce struct{ fakeCatalog }

var compiled sync.Map

func (c filterOnce) Filter(name string) *route.Filter {
	for _, d := range c.destinations {
		if d.Name == name && d.Filter != "" {
			if f, ok := compiled.Load(d.Filter); ok {
				return f.(*route.Filter)
			}
			f, err := route.CompileFilter(d.Filter)
			if err != nil {
				return nil
			}
			compiled.Store(d.Filter, f)
			return f
		}
	}
	return nil
}
