package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/webhook"
)

// TestTrustedProxiesAllowList runs a real hookd on loopback with a source
// that only accepts 203.0.113.7, and sends from 127.0.0.1 as a proxy would:
// the forwarded address counts only when 127.0.0.1 is a trusted proxy, and
// a client-written entry left of the proxy's own cannot claim the address.
func TestTrustedProxiesAllowList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted string
		xff     []string
		want    int
	}{
		{name: "trusted proxy forwards an allowed client", trusted: "127.0.0.1", xff: []string{"203.0.113.7"}, want: http.StatusAccepted},
		{name: "trusted by block", trusted: "10.0.0.0/8, 127.0.0.0/8", xff: []string{"203.0.113.7"}, want: http.StatusAccepted},
		{name: "trusted hops are skipped", trusted: "127.0.0.1, 10.0.0.0/8", xff: []string{"203.0.113.7, 10.1.1.1"}, want: http.StatusAccepted},
		{name: "no trusted proxies: header ignored", trusted: "", xff: []string{"203.0.113.7"}, want: http.StatusForbidden},
		{name: "peer not in the list: header ignored", trusted: "10.0.0.0/8", xff: []string{"203.0.113.7"}, want: http.StatusForbidden},
		{name: "spoofed chain: the proxy's entry is the client", trusted: "127.0.0.1", xff: []string{"203.0.113.7, 198.51.100.9"}, want: http.StatusForbidden},
		{name: "spoofed chain over two lines", trusted: "127.0.0.1", xff: []string{"203.0.113.7", "198.51.100.9"}, want: http.StatusForbidden},
		{name: "malformed header falls back to the peer", trusted: "127.0.0.1", xff: []string{"203.0.113.7, unknown"}, want: http.StatusForbidden},
		{name: "trusted proxy without a header", trusted: "127.0.0.1", want: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ta := setup(t, func(cfg *config.Config) {
				cfg.TrustedProxies = mustTrusted(t, tt.trusted)
				src := testSource("partner")
				src.Verify.AllowIPs = []string{"203.0.113.7"}
				cfg.Sources = []webhook.Source{src}
			})
			h := jsonHeader()
			if tt.xff != nil {
				h["X-Forwarded-For"] = tt.xff
			}
			// Forwarded is never read, whatever it says.
			h["Forwarded"] = []string{"for=203.0.113.7"}
			status, raw := ta.post(t, "/webhook/partner", []byte(`{"n":1}`), h)
			if status != tt.want {
				t.Fatalf("X-Forwarded-For %q: %d %s; want %d", tt.xff, status, raw, tt.want)
			}
		})
	}
}

// TestTrustedProxiesLoginLimiter checks that failed logins are counted per
// forwarded client when the proxy is trusted (one client's guesses do not
// lock out another behind the same proxy), and per connection otherwise
// (a client cannot buy a fresh budget by writing a new header).
func TestTrustedProxiesLoginLimiter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		trusted       string
		wantOtherPeer int // the answer to a different forwarded client after the first is slowed down
	}{
		{name: "trusted: counted per forwarded client", trusted: "127.0.0.1", wantOtherPeer: http.StatusUnauthorized},
		{name: "untrusted: counted per connection", trusted: "", wantOtherPeer: http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ta := setup(t, func(cfg *config.Config) {
				cfg.TrustedProxies = mustTrusted(t, tt.trusted)
			})
			// A different username each time, so that only the per-address
			// budget (5 failures) is spent.
			login := func(n int, client string) int {
				body, err := json.Marshal(map[string]string{"username": fmt.Sprintf("nobody%d", n), "password": "wrong"})
				if err != nil {
					t.Fatal(err)
				}
				h := jsonHeader()
				h["X-Forwarded-For"] = []string{client}
				status, _ := ta.post(t, "/api/auth/login", body, h)
				return status
			}
			for i := range 5 {
				if got := login(i, "203.0.113.7"); got != http.StatusUnauthorized {
					t.Fatalf("failed login %d: %d; want 401", i+1, got)
				}
			}
			if got := login(5, "203.0.113.7"); got != http.StatusTooManyRequests {
				t.Fatalf("sixth failed login from the same client: %d; want 429", got)
			}
			if got := login(6, "198.51.100.9"); got != tt.wantOtherPeer {
				t.Fatalf("login from another forwarded client: %d; want %d", got, tt.wantOtherPeer)
			}
		})
	}
}

// mustTrusted reads s as HOOKD_TRUSTED_PROXIES is read.
func mustTrusted(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	cfg := config.Default()
	if err := cfg.FromEnv(func(key string) (string, bool) {
		if key == "HOOKD_TRUSTED_PROXIES" {
			return s, true
		}
		return "", false
	}); err != nil {
		t.Fatalf("HOOKD_TRUSTED_PROXIES=%q: %v", s, err)
	}
	return cfg.TrustedProxies
}
