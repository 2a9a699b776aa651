package ingest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// discardStore accepts every event and keeps none, so that a benchmark
// measures the handler, not a growing slice.
type discardStore struct{}

func (discardStore) EventInsertMany(_ context.Context, params []store.EventInsertParams) ([]store.EventInsertResult, error) {
	out := make([]store.EventInsertResult, len(params))
	for i, p := range params {
		out[i] = store.EventInsertResult{ID: p.Event.ID, Status: p.Event.Status}
	}
	return out, nil
}

// benchServe measures one webhook request through the handler (verify,
// read, fan-out over cat's destinations, group commit into a store that
// keeps nothing), without the network.
func benchServe(b *testing.B, cat Catalog) {
	h := New(Options{Store: discardStore{}, Queue: &fakeQueue{}, Catalog: cat})
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Stop)
	body := []byte(`{"type":"orders.create","id":12345678901234567890,"total":250,"lines":[{"sku":"a","n":1},{"sku":"b","n":2}],"pad":"` + string(bytes.Repeat([]byte("x"), 200)) + `"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		req := httptest.NewRequest(http.MethodPost, "/webhook/shop", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetPathValue("source", "shop")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkServeFanOut has eight destinations subscribed by source and
// type, none with a filter: the path every existing configuration takes.
func BenchmarkServeFanOut(b *testing.B) {
	cat := fakeCatalog{sources: map[string]webhook.Source{"shop": {Name: "shop", MaxBodyBytes: 1 << 20}}}
	for i, types := range [][]string{nil, {"orders.*"}, {"carts.*"}, nil, {"orders.create"}, {"*"}, {"refunds.*"}, nil} {
		cat.destinations = append(cat.destinations, webhook.Destination{Name: string(rune('a' + i)), Sources: []string{"shop"}, EventTypes: types})
	}
	benchServe(b, cat)
}
