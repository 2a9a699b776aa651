package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/webhook"
)

// fakeKeys is an APIKeyLookup over a map; err, when set, fails every lookup.
type fakeKeys struct {
	byHash map[string]auth.Principal
	err    error
}

func (k *fakeKeys) APIKeyGetByHash(_ context.Context, hash string) (auth.Principal, error) {
	if k.err != nil {
		return auth.Principal{}, k.err
	}
	p, ok := k.byHash[hash]
	if !ok {
		return auth.Principal{}, fmt.Errorf("api key: %w", webhook.ErrNotFound)
	}
	return p, nil
}

// echoPrincipal answers 200 with the request's principal as JSON.
var echoPrincipal = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
})

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// serve runs one request with the given Authorization header (none when
// empty) through h.
func serve(t *testing.T, h http.Handler, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/webhooks", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode error body %q: %v", rec.Body, err)
	}
	if body.Error == "" {
		t.Errorf("error body %q has no message", rec.Body)
	}
	return body
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	tokens, clock := setupTokens(t)
	adminToken := mustIssue(t, tokens, auth.Principal{Username: "admin", Role: auth.RoleAdmin})
	expiredToken := func() string {
		old := auth.NewTokens(testSecret, time.Minute, func() time.Time { return clock.Now().Add(-time.Hour) })
		return mustIssue(t, old, auth.Principal{Username: "admin", Role: auth.RoleAdmin})
	}()
	otherToken := mustIssue(t, auth.NewTokens([]byte("a different secret, 32 bytes...."), time.Hour, clock.Now),
		auth.Principal{Username: "admin", Role: auth.RoleAdmin})
	goodKey, goodHash := auth.NewAPIKey()
	unknownKey, _ := auth.NewAPIKey()
	keys := &fakeKeys{byHash: map[string]auth.Principal{
		goodHash: {Username: "ci-script", Role: auth.RoleViewer, Kind: "whatever the store said"},
	}}

	tests := []struct {
		name          string
		keys          auth.APIKeyLookup // nil: the shared fakeKeys; noKeys passes nil
		noKeys        bool
		authorization string
		wantStatus    int
		wantCode      string
		want          auth.Principal
	}{
		{name: "missing header", wantStatus: 401, wantCode: "unauthorized"},
		{name: "basic scheme", authorization: "Basic YWRtaW46cGFzc3dvcmQ=", wantStatus: 401, wantCode: "unauthorized"},
		{name: "scheme without credential", authorization: "Bearer", wantStatus: 401, wantCode: "invalid_token"},
		{name: "bearer and spaces", authorization: "Bearer   ", wantStatus: 401, wantCode: "invalid_token"},
		{name: "two credentials", authorization: "Bearer " + adminToken + " " + adminToken, wantStatus: 401, wantCode: "invalid_token"},
		{name: "token without scheme", authorization: adminToken, wantStatus: 401, wantCode: "unauthorized"},
		{name: "garbage token", authorization: "Bearer abc.def.ghi", wantStatus: 401, wantCode: "invalid_token"},
		{name: "expired token", authorization: "Bearer " + expiredToken, wantStatus: 401, wantCode: "invalid_token"},
		{name: "token from another secret", authorization: "Bearer " + otherToken, wantStatus: 401, wantCode: "invalid_token"},
		{name: "good token", authorization: "Bearer " + adminToken, wantStatus: 200,
			want: auth.Principal{Username: "admin", Role: auth.RoleAdmin, Kind: auth.KindUser}},
		{name: "scheme is case-insensitive", authorization: "bearer " + adminToken, wantStatus: 200,
			want: auth.Principal{Username: "admin", Role: auth.RoleAdmin, Kind: auth.KindUser}},
		{name: "good API key", authorization: "Bearer " + goodKey, wantStatus: 200,
			want: auth.Principal{Username: "ci-script", Role: auth.RoleViewer, Kind: auth.KindAPIKey}},
		{name: "unknown API key", authorization: "Bearer " + unknownKey, wantStatus: 401, wantCode: "invalid_token"},
		{name: "malformed API key", authorization: "Bearer hk_short", wantStatus: 401, wantCode: "invalid_token"},
		{name: "API key with a character changed", authorization: "Bearer " + goodKey[:len(goodKey)-1] + flip(goodKey[len(goodKey)-1]), wantStatus: 401, wantCode: "invalid_token"},
		{name: "API key when keys are not accepted", noKeys: true, authorization: "Bearer " + goodKey, wantStatus: 401, wantCode: "invalid_token"},
		{name: "key store failing", keys: &fakeKeys{err: errors.New("database is locked")}, authorization: "Bearer " + goodKey, wantStatus: 500, wantCode: "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var lookup auth.APIKeyLookup = keys
			if tt.keys != nil {
				lookup = tt.keys
			}
			if tt.noKeys {
				lookup = nil
			}
			h := auth.Authenticate(tokens, lookup, slog.New(slog.DiscardHandler))(echoPrincipal)
			rec := serve(t, h, tt.authorization)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus == 200 {
				var got auth.Principal
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatalf("decode principal: %v", err)
				}
				if got != tt.want {
					t.Errorf("principal = %+v, want %+v", got, tt.want)
				}
				return
			}
			body := decodeError(t, rec)
			if body.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", body.Code, tt.wantCode)
			}
			wantChallenge := ""
			if tt.wantStatus == 401 {
				wantChallenge = "Bearer"
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
			}
			if strings.Contains(rec.Body.String(), "database is locked") {
				t.Errorf("body %s leaks the internal cause", rec.Body)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestAuthenticateNilTokens(t *testing.T) {
	t.Parallel()
	tokens, _ := setupTokens(t)
	token := mustIssue(t, tokens, auth.Principal{Username: "admin", Role: auth.RoleAdmin})
	h := auth.Authenticate(nil, nil, nil)(echoPrincipal)
	rec := serve(t, h, "Bearer "+token)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", rec.Code)
	}
}

func TestRequireWrite(t *testing.T) {
	t.Parallel()
	tokens, _ := setupTokens(t)
	tests := []struct {
		name       string
		principal  *auth.Principal // nil: no Authenticate in front
		wantStatus int
		wantCode   string
	}{
		{name: "admin", principal: &auth.Principal{Username: "admin", Role: auth.RoleAdmin}, wantStatus: 200},
		{name: "viewer", principal: &auth.Principal{Username: "viv", Role: auth.RoleViewer}, wantStatus: 403, wantCode: "forbidden"},
		{name: "no principal", wantStatus: 401, wantCode: "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := auth.RequireWrite(echoPrincipal)
			authorization := ""
			if tt.principal != nil {
				h = auth.Authenticate(tokens, nil, nil)(h)
				authorization = "Bearer " + mustIssue(t, tokens, *tt.principal)
			}
			rec := serve(t, h, authorization)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != 200 {
				if body := decodeError(t, rec); body.Code != tt.wantCode {
					t.Errorf("code = %q, want %q", body.Code, tt.wantCode)
				}
			}
		})
	}
}

func TestHTTPError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantRetry  time.Duration
	}{
		{name: "credentials", err: auth.ErrInvalidCredentials, wantStatus: 401, wantCode: "invalid_credentials"},
		{name: "wrapped token", err: fmt.Errorf("%w: bad", auth.ErrInvalidToken), wantStatus: 401, wantCode: "invalid_token"},
		{name: "forbidden", err: auth.ErrForbidden, wantStatus: 403, wantCode: "forbidden"},
		{name: "too many, bare", err: auth.ErrTooManyAttempts, wantStatus: 429, wantCode: "too_many_attempts"},
		{name: "too many, with wait", err: fmt.Errorf("login: %w", auth.TooManyAttempts(7*time.Second)), wantStatus: 429, wantCode: "too_many_attempts", wantRetry: 7 * time.Second},
		{name: "not ours", err: webhook.ErrNotFound},
		{name: "nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			he := auth.HTTPError(tt.err)
			if tt.wantStatus == 0 {
				if he != nil {
					t.Fatalf("HTTPError(%v) = %+v, want nil", tt.err, he)
				}
				return
			}
			if he == nil || he.Status != tt.wantStatus || he.Code != tt.wantCode || he.RetryAfter != tt.wantRetry {
				t.Fatalf("HTTPError(%v) = %+v, want status %d code %q retry %v", tt.err, he, tt.wantStatus, tt.wantCode, tt.wantRetry)
			}
			if !errors.Is(he, tt.err) {
				t.Errorf("HTTPError(%v) does not wrap its cause", tt.err)
			}
		})
	}
	if !errors.Is(auth.TooManyAttempts(time.Second), auth.ErrTooManyAttempts) {
		t.Error("TooManyAttempts does not wrap ErrTooManyAttempts")
	}
}
