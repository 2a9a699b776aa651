package api_test

import (
	"net/http"
	"testing"

	"github.com/hookd/hookd/internal/api"
)

// TestDestinationOrdering creates, reads, changes and turns off a
// destination's ordering through the API, and refuses a key program that
// does not compile, naming ordering.key.
func TestDestinationOrdering(t *testing.T) {
	t.Parallel()
	ta := setup(t, nil, nil)
	admin := ta.admin(t)
	call := func(method, path string, body any) response {
		return ta.call(t, request{method: method, path: path, token: admin, body: body})
	}
	want[api.SourceDetail](t, call("POST", "/api/sources", map[string]any{"name": "shop"}), http.StatusCreated, "create source")
	isOrdered := func(v api.DestinationView, key string) bool {
		return v.Ordering != nil && v.Ordering.Enabled != nil && *v.Ordering.Enabled && v.Ordering.Key == key
	}

	d := want[api.DestinationView](t, call("POST", "/api/destinations", map[string]any{
		"name": "orders", "url": "https://orders.example.com/hook", "sources": []string{"shop"},
		"ordering": map[string]any{"key": ".payload.order_id"},
	}), http.StatusCreated, "create ordered destination")
	if !isOrdered(d, ".payload.order_id") {
		t.Fatalf("created ordering = %+v", d.Ordering)
	}
	got := want[api.DestinationView](t, call("GET", "/api/destinations/orders", nil), http.StatusOK, "get")
	if !isOrdered(got, ".payload.order_id") {
		t.Fatalf("stored ordering = %+v", got.Ordering)
	}
	whole := want[api.DestinationView](t, call("PATCH", "/api/destinations/orders", map[string]any{"ordering": map[string]any{}}), http.StatusOK, "whole destination")
	if !isOrdered(whole, "") {
		t.Fatalf("ordering after {} = %+v", whole.Ordering)
	}
	untouched := want[api.DestinationView](t, call("PATCH", "/api/destinations/orders", map[string]any{"rate_limit": 3}), http.StatusOK, "other field")
	if !isOrdered(untouched, "") {
		t.Fatalf("a patch without ordering changed it: %+v", untouched.Ordering)
	}
	off := want[api.DestinationView](t, call("PATCH", "/api/destinations/orders", map[string]any{"ordering": map[string]any{"enabled": false}}), http.StatusOK, "off")
	if off.Ordering != nil {
		t.Fatalf("ordering after enabled:false = %+v", off.Ordering)
	}
	wantError(t, call("PATCH", "/api/destinations/orders", map[string]any{"ordering": map[string]any{"key": ".payload.["}}), 400, "invalid", "ordering.key")
	wantError(t, call("POST", "/api/destinations", map[string]any{
		"name": "bad", "url": "https://bad.example.com/hook", "sources": []string{"shop"},
		"ordering": map[string]any{"key": "if"},
	}), 400, "invalid", "ordering.key")
}
