package auth_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/webhook"
)

var testSecret = bytes.Repeat([]byte("k"), auth.SecretBytes)

// setupTokens returns a Tokens with a one-hour TTL on a fake clock.
func setupTokens(t *testing.T) (*auth.Tokens, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	return auth.NewTokens(testSecret, time.Hour, clock.Now), clock
}

func mustIssue(t *testing.T, tokens *auth.Tokens, p auth.Principal) string {
	t.Helper()
	token, _, err := tokens.Issue(p)
	if err != nil {
		t.Fatalf("Issue(%+v): %v", p, err)
	}
	return token
}

// sign makes a token with any claims, method and key, as an attacker would.
func sign(t *testing.T, method jwt.SigningMethod, claims jwt.MapClaims, key any) string {
	t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return token
}

func TestTokensRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []auth.Principal{
		{Username: "admin", Role: auth.RoleAdmin},
		{Username: "viv", Role: auth.RoleViewer, Kind: auth.KindAPIKey}, // Kind is not carried
		{Username: "名前 with spaces", Role: auth.RoleViewer},
	}
	for _, p := range tests {
		t.Run(p.Username, func(t *testing.T) {
			t.Parallel()
			tokens, clock := setupTokens(t)
			token, expiresAt, err := tokens.Issue(p)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if want := clock.Now().Add(time.Hour); !expiresAt.Equal(want) {
				t.Errorf("expiresAt = %v, want %v", expiresAt, want)
			}
			got, err := tokens.Parse(token)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := auth.Principal{Username: p.Username, Role: p.Role, Kind: auth.KindUser}
			if got != want {
				t.Errorf("Parse = %+v, want %+v", got, want)
			}
			// Another Tokens with the same secret (another process) accepts it.
			other := auth.NewTokens(append([]byte(nil), testSecret...), time.Minute, clock.Now)
			if _, err := other.Parse(token); err != nil {
				t.Errorf("Parse by a second Tokens with the same secret: %v", err)
			}
		})
	}
}

func TestTokensClaims(t *testing.T) {
	t.Parallel()
	tokens, clock := setupTokens(t)
	token := mustIssue(t, tokens, auth.Principal{Username: "admin", Role: auth.RoleAdmin})
	var c jwt.MapClaims
	parsed, _, err := jwt.NewParser().ParseUnverified(token, &c)
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	if alg := parsed.Header["alg"]; alg != "HS256" {
		t.Errorf("alg = %v, want HS256", alg)
	}
	now := float64(clock.Now().Unix())
	want := map[string]any{"sub": "admin", "role": "admin", "iss": "hookd", "iat": now, "exp": now + 3600}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
}

func TestTokensExpiry(t *testing.T) {
	t.Parallel()
	tokens, clock := setupTokens(t)
	token := mustIssue(t, tokens, auth.Principal{Username: "admin", Role: auth.RoleAdmin})

	clock.Advance(time.Hour - time.Second)
	if _, err := tokens.Parse(token); err != nil {
		t.Fatalf("Parse one second before expiry: %v", err)
	}
	clock.Advance(time.Second)
	_, err := tokens.Parse(token)
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Parse at expiry = %v, want ErrInvalidToken", err)
	}
	if he := auth.HTTPError(err); he == nil || !strings.Contains(he.Message, "expired") {
		t.Errorf("HTTPError(expired) = %+v, want a message saying it expired", he)
	}
}

func TestTokensDefaults(t *testing.T) {
	t.Parallel()
	tokens := auth.NewTokens(testSecret, 0, nil)
	if tokens.TTL() != auth.DefaultTokenTTL {
		t.Errorf("TTL() = %v, want %v", tokens.TTL(), auth.DefaultTokenTTL)
	}
	token, expiresAt, err := tokens.Issue(auth.Principal{Username: "a", Role: auth.RoleViewer})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if d := time.Until(expiresAt); d < auth.DefaultTokenTTL-time.Minute || d > auth.DefaultTokenTTL {
		t.Errorf("expires in %v, want about %v", d, auth.DefaultTokenTTL)
	}
	if _, err := tokens.Parse(token); err != nil {
		t.Errorf("Parse with the real clock: %v", err)
	}
}

func TestTokensSecretIsCopied(t *testing.T) {
	t.Parallel()
	secret := bytes.Clone(testSecret)
	clock := newFakeClock()
	tokens := auth.NewTokens(secret, time.Hour, clock.Now)
	token := mustIssue(t, tokens, auth.Principal{Username: "a", Role: auth.RoleAdmin})
	secret[0] ^= 0xff
	if _, err := tokens.Parse(token); err != nil {
		t.Fatalf("Parse after the caller changed its secret slice: %v", err)
	}
}

func TestNewTokensEmptySecretPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("NewTokens(nil secret) did not panic")
		}
	}()
	auth.NewTokens(nil, time.Hour, nil)
}

func TestIssueRefusesBadPrincipal(t *testing.T) {
	t.Parallel()
	tests := []auth.Principal{
		{Username: "", Role: auth.RoleAdmin},
		{Username: "a", Role: ""},
		{Username: "a", Role: "root"},
	}
	for _, p := range tests {
		tokens, _ := setupTokens(t)
		if _, _, err := tokens.Issue(p); !errors.Is(err, webhook.ErrInvalid) {
			t.Errorf("Issue(%+v) = %v, want webhook.ErrInvalid", p, err)
		}
	}
}

func TestTokensParseRefuses(t *testing.T) {
	t.Parallel()
	tokens, clock := setupTokens(t)
	now := clock.Now()
	valid := jwt.MapClaims{"sub": "mallory", "role": "admin", "iss": "hookd", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	with := func(changes map[string]any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range valid {
			c[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	viewerToken := mustIssue(t, tokens, auth.Principal{Username: "viv", Role: auth.RoleViewer})
	parts := strings.Split(viewerToken, ".")
	escalated := base64.RawURLEncoding.EncodeToString([]byte(
		`{"sub":"viv","role":"admin","iss":"hookd","iat":` + itoa(now.Unix()) + `,"exp":` + itoa(now.Add(time.Hour).Unix()) + `}`))

	tests := []struct {
		name  string
		token string
	}{
		{name: "empty", token: ""},
		{name: "garbage", token: "not a token"},
		{name: "two segments", token: parts[0] + "." + parts[1]},
		{name: "too long", token: viewerToken + strings.Repeat("A", 5000)},
		{name: "wrong secret", token: sign(t, jwt.SigningMethodHS256, valid, []byte("another secret of thirty-two b.."))},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, valid, jwt.UnsafeAllowNoneSignatureType)},
		{name: "alg none, empty signature, our header otherwise", token: noneToken(valid)},
		{name: "RS256", token: sign(t, jwt.SigningMethodRS256, valid, rsaKey)},
		{name: "HS512 with our secret", token: sign(t, jwt.SigningMethodHS512, valid, testSecret)},
		{name: "HS384 with our secret", token: sign(t, jwt.SigningMethodHS384, valid, testSecret)},
		{name: "tampered payload", token: parts[0] + "." + escalated + "." + parts[2]},
		{name: "signature stripped", token: parts[0] + "." + parts[1] + "."},
		{name: "missing exp", token: sign(t, jwt.SigningMethodHS256, with(map[string]any{"exp": nil}), testSecret)},
		{name: "expired", token: sign(t, jwt.SigningMethodHS256, with(map[string]any{"exp": now.Add(-time.Second).Unix()}), testSecret)},
		{name: "exp not a number", token: sign(t, jwt.SigningMethodHS256, with(map[string]any{"exp": "tomorrow"}), testSecret)},
		{name: "missing issuer", token: sign(t, jwt.SigningMethodHS256, with(map[string]any{"iss": nil}), testSecret)},
		{name: "other issuer", token: sign(t, jwt.SigningMethodHS256, with(map[string]any{"iss": "other"}), testSecret)},
		{name: "missing subject", token: sign(t, jwt.SigningMethodHS256, with(map[string]any{"sub": nil}), testSecret)},
		{name: "unknown role", token: sign(t, jwt.SigningMethodHS256, with(map[string]any{"role": "root"}), testSecret)},
		{name: "missing role", token: sign(t, jwt.SigningMethodHS256, with(map[string]any{"role": nil}), testSecret)},
		{name: "not yet valid", token: sign(t, jwt.SigningMethodHS256, with(map[string]any{"nbf": now.Add(time.Minute).Unix()}), testSecret)},
	}
	// The table's own control: the valid claims signed right are accepted.
	if _, err := tokens.Parse(sign(t, jwt.SigningMethodHS256, valid, testSecret)); err != nil {
		t.Fatalf("Parse(valid control token) = %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tokens.Parse(tt.token)
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Parse = %+v, %v; want ErrInvalidToken", p, err)
			}
			t.Logf("reason: %v", err)
			if p != (auth.Principal{}) {
				t.Errorf("Parse returned principal %+v with its error", p)
			}
		})
	}
}

// noneToken builds an "alg":"none" token by hand, without the library's
// guard, as an attacker would.
func noneToken(c jwt.MapClaims) string {
	enc := base64.RawURLEncoding
	payload := `{"sub":"` + c["sub"].(string) + `","role":"admin","iss":"hookd","exp":` + itoa(c["exp"].(int64)) + `}`
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload)) + "."
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSecretEncoding(t *testing.T) {
	t.Parallel()
	secret := auth.NewSecret()
	if len(secret) != auth.SecretBytes {
		t.Fatalf("len(NewSecret()) = %d, want %d", len(secret), auth.SecretBytes)
	}
	if bytes.Equal(secret, auth.NewSecret()) {
		t.Fatal("NewSecret returned the same secret twice")
	}
	long := bytes.Repeat([]byte{0xfb, 0xff, 0xfe}, 16) // 48 bytes whose base64 has + and /

	tests := []struct {
		name string
		in   string
		want []byte // nil: refused
	}{
		{name: "round trip", in: auth.EncodeSecret(secret), want: secret},
		{name: "surrounding spaces", in: "  " + auth.EncodeSecret(secret) + "\n", want: secret},
		{name: "unpadded", in: base64.RawStdEncoding.EncodeToString(secret), want: secret},
		{name: "url-safe", in: base64.URLEncoding.EncodeToString(long), want: long},
		{name: "url-safe unpadded", in: base64.RawURLEncoding.EncodeToString(long), want: long},
		{name: "too short", in: base64.StdEncoding.EncodeToString([]byte("short secret"))},
		{name: "empty", in: ""},
		{name: "not base64", in: "this is not base64 but a passphrase!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := auth.DecodeSecret(tt.in)
			if tt.want != nil {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("DecodeSecret = %x, %v; want %x", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, webhook.ErrInvalid) || !strings.Contains(err.Error(), "jwt_secret") {
				t.Fatalf("DecodeSecret error = %v, want one wrapping ErrInvalid naming jwt_secret", err)
			}
			if tt.in != "" && strings.Contains(err.Error(), tt.in) {
				t.Errorf("DecodeSecret error %q contains the secret", err)
			}
		})
	}
}
