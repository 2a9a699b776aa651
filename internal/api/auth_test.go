package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/webhook"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	ta := setup(t, nil, nil)
	login := func(body any) response {
		return ta.call(t, request{method: "POST", path: "/api/auth/login", body: body})
	}

	r := login(map[string]string{"username": "admin", "password": adminPassword})
	got := want[api.LoginResponse](t, r, http.StatusOK, "login")
	if got.Token == "" || got.User != (api.UserView{Username: "admin", Role: "admin"}) {
		t.Errorf("login = %+v; want a token for admin/admin", got)
	}
	if ttl := time.Until(got.ExpiresAt); ttl < auth.DefaultTokenTTL-time.Minute || ttl > auth.DefaultTokenTTL {
		t.Errorf("expires_at %s is %s away; want about %s", got.ExpiresAt, ttl, auth.DefaultTokenTTL)
	}
	me := get[map[string]string](t, ta, "/api/auth/me", got.Token)
	if me["username"] != "admin" || me["role"] != "admin" || me["kind"] != "user" {
		t.Errorf("/api/auth/me = %v", me)
	}

	// Wrong password and unknown user look the same.
	wantError(t, login(map[string]string{"username": "admin", "password": "not the password"}), 401, "invalid_credentials", "invalid username or password")
	wantError(t, login(map[string]string{"username": "nobody", "password": "not the password"}), 401, "invalid_credentials", "invalid username or password")
	// Bad input names its problem.
	wantError(t, login(map[string]string{"username": "admin"}), 400, "invalid", "password")
	wantError(t, login(map[string]string{"password": "x"}), 400, "invalid", "username")
	wantError(t, login("{not json"), 400, "invalid", "body", "not valid JSON")
	wantError(t, login(map[string]any{"username": "admin", "password": adminPassword, "remember": true}), 400, "invalid", "remember")

	// Two failures above; three more spend the budget (5) of this address...
	for range 3 {
		wantError(t, login(map[string]string{"username": "admin", "password": "guess"}), 401, "invalid_credentials")
	}
	// ...and then even the right password is refused without being checked.
	r = login(map[string]string{"username": "admin", "password": adminPassword})
	wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	ta := setup(t, nil, func(opts *app.Options) { opts.TokenTTL = time.Second })
	r := ta.call(t, request{method: "POST", path: "/api/auth/login", body: map[string]string{"username": "admin", "password": adminPassword}})
	got := want[api.LoginResponse](t, r, http.StatusOK, "login")
	if ttl := time.Until(got.ExpiresAt); ttl > time.Second {
		t.Fatalf("expires_at is %s away with a 1s TTL", ttl)
	}
	// Tokens expire on a whole second (the exp claim), so this is under 1s.
	before := ta.call(t, request{method: "GET", path: "/api/auth/me", token: got.Token})
	time.Sleep(time.Until(got.ExpiresAt) + 10*time.Millisecond)
	if before.status != http.StatusOK && time.Now().Before(got.ExpiresAt) {
		t.Errorf("fresh token refused: %d %s", before.status, before)
	}
	r = ta.call(t, request{method: "GET", path: "/api/auth/me", token: got.Token})
	wantError(t, r, http.StatusUnauthorized, "invalid_token", "expired")
	if r.header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want Bearer", r.header.Get("WWW-Authenticate"))
	}
	r = ta.call(t, request{method: "GET", path: "/api/stream?access_token=" + got.Token})
	wantError(t, r, http.StatusUnauthorized, "invalid_token", "expired")
}

// openRoutes are the only routes anyone may call without credentials.
var openRoutes = map[string]bool{
	"POST /api/auth/login":  true,
	"GET /api/openapi.json": true,
}

// readOnlyPosts take a POST for their body but change nothing, so any
// signed-in user may call them.
var readOnlyPosts = map[string]bool{
	"POST /api/destinations/test-filter":   true,
	"POST /api/destinations/try-transform": true,
}

// routePath fills a route pattern's wildcards with well-formed values of
// things that do not exist.
func routePath(pattern string) string {
	return strings.NewReplacer("{id}", "evt_01ARZ3NDEKTSV4RRFFQ69G5FAV", "{name}", "nosuch").Replace(pattern)
}

// TestRouteAuth walks the whole route table, so that a new route cannot
// skip authentication or the admin check: without credentials or with bad
// ones every route but the open ones is 401; a viewer (token or API key)
// gets 403 on every route that changes state and is let through on the
// others; an admin is let through everywhere and, with empty or
// nonexistent input, never gets a 5xx.
func TestRouteAuth(t *testing.T) {
	t.Parallel()
	ta := setup(t, nil, nil)
	admin := ta.admin(t)
	viewer := ta.viewer(t)
	viewerKey, hash := auth.NewAPIKey()
	if err := ta.Store().APIKeyCreate(t.Context(), webhook.APIKey{ID: "key_viewer", Name: "script", Hash: hash, Role: "viewer", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	forged, _, err := auth.NewTokens(auth.NewSecret(), time.Hour, nil).Issue(auth.Principal{Username: "admin", Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	unknownKey, _ := auth.NewAPIKey()

	routes := api.New(api.Options{}).Routes()
	if len(routes) < 21 {
		t.Fatalf("route table has %d routes; the API has at least 21", len(routes))
	}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		if rt.Method != "GET" && !rt.Write && !openRoutes[key] && !readOnlyPosts[key] {
			t.Errorf("%s changes state but is not marked Write", key)
		}
		if openRoutes[key] {
			continue
		}
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			path := routePath(rt.Pattern)
			wantError(t, ta.call(t, request{method: rt.Method, path: path}), 401, "unauthorized")
			for name, cred := range map[string]string{"garbage": "not-a-token", "forged": forged, "unknown key": unknownKey} {
				r := ta.call(t, request{method: rt.Method, path: path, token: cred})
				if r.status != http.StatusUnauthorized {
					t.Errorf("%s credential: status %d, want 401 (%s)", name, r.status, r)
				}
			}
			for name, cred := range map[string]string{"viewer token": viewer, "viewer API key": viewerKey, "admin": admin} {
				status := ta.status(t, rt.Method, path, cred)
				switch {
				case rt.Write && name != "admin":
					if status != http.StatusForbidden {
						t.Errorf("%s: status %d, want 403", name, status)
					}
				case status == http.StatusUnauthorized || status == http.StatusForbidden:
					t.Errorf("%s: status %d, want to be let through", name, status)
				case status >= 500:
					t.Errorf("%s: status %d for empty or unknown input", name, status)
				}
			}
		})
	}
}

// status makes a request and returns its status as soon as the headers
// arrive (the live stream never ends by itself).
func (ta *testApp) status(t *testing.T, method, path, token string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, method, ta.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := ta.client.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
