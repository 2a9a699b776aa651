package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hookd/hookd/internal/auth"
)

// FuzzParse feeds arbitrary Authorization headers through Authenticate and
// arbitrary tokens through Tokens.Parse: neither may panic, and neither may
// accept anything, since no input can carry a signature made with the
// fuzzer's unknown secret.
func FuzzParse(f *testing.F) {
	clock := newFakeClock()
	now := clock.Now()
	attacker := auth.NewTokens([]byte("the attacker's secret, 32 bytes."), time.Hour, clock.Now)
	forged, _, err := attacker.Issue(auth.Principal{Username: "admin", Role: auth.RoleAdmin})
	if err != nil {
		f.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"sub": "admin", "role": "admin", "iss": "hookd", "exp": now.Add(time.Hour).Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		f.Fatal(err)
	}
	apiKey, _ := auth.NewAPIKey()
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "bearer x", "Basic YTpi", "Bearer a.b.c", "Bearer ..",
		"Bearer " + forged, "Bearer " + none, "Bearer " + apiKey, "Bearer hk_", "Bearer hk_" + strings.Repeat("=", 43),
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.", "Bearer " + forged + " " + forged, "\x00Bearer \xff",
	} {
		f.Add(seed)
	}

	// The real secret is random per run: no seed or mutation can know it.
	tokens := auth.NewTokens(auth.NewSecret(), time.Hour, clock.Now)
	keys := &fakeKeys{} // knows no key
	h := auth.Authenticate(tokens, keys, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))

	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/api/webhooks", nil)
		req.Header["Authorization"] = []string{header} // raw, as a client could send
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: status %d, want 401", header, rec.Code)
		}

		token := strings.TrimPrefix(header, "Bearer ")
		p, err := tokens.Parse(token)
		if err == nil {
			t.Fatalf("Parse(%q) accepted %+v", token, p)
		}
		if !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("Parse(%q) = %v, want ErrInvalidToken", token, err)
		}
	})
}
