package api_test

import (
	"net/http"
	"testing"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/webhook"
)

// TestDestinationRetryAndAdaptive: a destination's retry policy goes in
// and out through the API (canonical schedule, "exponential" by name when
// not set), a bad one is a 400 naming the field, PATCH replaces it whole,
// and every destination shows its adaptive delivery state.
func TestDestinationRetryAndAdaptive(t *testing.T) {
	t.Parallel()
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{{Name: "github"}}
	}, nil)
	admin := ta.admin(t)
	call := func(method, path string, body any) response {
		return ta.call(t, request{method: method, path: path, token: admin, body: body})
	}
	body := func(name string, retry any) map[string]any {
		return map[string]any{"name": name, "url": "https://x.example.com/hooks", "sources": []string{"github"}, "max_in_flight": 8, "retry": retry}
	}

	d := want[api.DestinationView](t, call("POST", "/api/destinations",
		body("listed", map[string]any{"max_attempts": 8, "max_age": "24h", "schedule": "5s, 300s,30m"})), http.StatusCreated, "create")
	if d.Retry != (api.RetryView{MaxAttempts: 8, MaxAge: "24h0m0s", Schedule: "5s,5m,30m"}) {
		t.Errorf("retry = %+v", d.Retry)
	}
	if d.Adaptive == nil || d.Adaptive.Limit != 8 || d.Adaptive.Cap != 8 || d.Adaptive.PausedUntil != nil {
		t.Errorf("adaptive = %+v; want limit and cap 8, not paused", d.Adaptive)
	}
	plain := want[api.DestinationView](t, call("POST", "/api/destinations", body("plain", nil)), http.StatusCreated, "create without retry")
	if plain.Retry != (api.RetryView{Schedule: "exponential"}) {
		t.Errorf("retry of a destination without one = %+v; want the exponential schedule named", plain.Retry)
	}

	// PATCH without retry keeps it; with retry replaces it whole.
	kept := want[api.DestinationView](t, call("PATCH", "/api/destinations/listed", map[string]any{"timeout": "5s"}), http.StatusOK, "patch timeout")
	if kept.Retry != d.Retry {
		t.Errorf("after an unrelated PATCH: retry = %+v, want %+v", kept.Retry, d.Retry)
	}
	replaced := want[api.DestinationView](t, call("PATCH", "/api/destinations/listed", map[string]any{"retry": map[string]any{"max_attempts": 2}}), http.StatusOK, "patch retry")
	if replaced.Retry != (api.RetryView{MaxAttempts: 2, Schedule: "exponential"}) {
		t.Errorf("after PATCH retry: %+v", replaced.Retry)
	}

	tests := []struct {
		retry   map[string]any
		mention string
	}{
		{map[string]any{"schedule": "5s,5m,5x"}, `retry.schedule[2]: "5x" is not a duration`},
		{map[string]any{"max_age": "a day"}, "retry.max_age"},
		{map[string]any{"max_attempts": 101}, "retry.max_attempts"},
	}
	for _, tt := range tests {
		wantError(t, call("POST", "/api/destinations", body("bad", tt.retry)), http.StatusBadRequest, "invalid", tt.mention)
		wantError(t, call("PATCH", "/api/destinations/plain", map[string]any{"retry": tt.retry}), http.StatusBadRequest, "invalid", tt.mention)
	}
	if got := get[api.DestinationView](t, ta, "/api/destinations/plain", admin); got.Retry != plain.Retry {
		t.Errorf("refused PATCHes changed the retry: %+v", got.Retry)
	}
}
