package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hookd/hookd/internal/webhook"
)

// DefaultTokenTTL is how long a dashboard token stays valid: one working
// day, so a person logs in about once a day and a stolen token is useful
// for half a day at most.
const DefaultTokenTTL = 12 * time.Hour

// Issuer is the "iss" claim of every token hookd issues; [Tokens.Parse]
// refuses any other.
const Issuer = "hookd"

// SecretBytes is the length of a secret made by [NewSecret] and the least
// that [DecodeSecret] accepts: HS256 wants a key as long as its hash.
const SecretBytes = 32

// maxTokenBytes bounds the work spent on a token before it is refused.
// hookd's own tokens are about 200 bytes.
const maxTokenBytes = 4096

// errTokenExpired marks an expired token so that HTTPError can tell the
// client to log in again.
var errTokenExpired = errors.New("token expired")

// Tokens issues and verifies the signed tokens (JWT, HS256) the dashboard
// and API clients present as "Authorization: Bearer <token>". Every process
// that shares a secret accepts the others' tokens. A Tokens is safe for
// concurrent use.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// claims is the token payload: sub, iss, iat and exp, plus the role.
type claims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// NewTokens returns a Tokens that signs with secret (copied), issues tokens
// valid for ttl (DefaultTokenTTL when ttl <= 0), and reads the time from now
// (time.Now when nil). It panics when secret is empty, which would let
// anyone forge tokens: callers validate configured secrets with
// [DecodeSecret] or make one with [NewSecret].
func NewTokens(secret []byte, ttl time.Duration, now func() time.Time) *Tokens {
	if len(secret) == 0 {
		panic("auth: NewTokens with an empty secret")
	}
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	if now == nil {
		now = time.Now
	}
	t := &Tokens{secret: append([]byte(nil), secret...), ttl: ttl, now: now}
	t.parser = jwt.NewParser(
		// Pinning the algorithm refuses "none", and RS256 or ES256 tokens
		// whose "public key" an attacker would like us to use as the HMAC key.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(Issuer),
		jwt.WithTimeFunc(now),
	)
	return t
}

// TTL returns how long the tokens this Tokens issues stay valid.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue returns a signed token for p (claims sub = p.Username, role, iss
// "hookd", iat = now, exp = now + TTL) and the moment it expires, which is
// truncated to the second like the exp claim. p.Kind is not recorded: every
// token stands for a [KindUser]. It returns an error wrapping
// webhook.ErrInvalid when p has no username or an unknown role.
func (t *Tokens) Issue(p Principal) (token string, expiresAt time.Time, err error) {
	if p.Username == "" {
		return "", time.Time{}, fmt.Errorf("%w: username: must not be empty", webhook.ErrInvalid)
	}
	if _, err := ParseRole(string(p.Role)); err != nil {
		return "", time.Time{}, err
	}
	now := t.now()
	iat := jwt.NewNumericDate(now)
	exp := jwt.NewNumericDate(now.Add(t.ttl))
	c := claims{
		Role: string(p.Role),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   p.Username,
			IssuedAt:  iat,
			ExpiresAt: exp,
		},
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return token, exp.Time, nil
}

// Parse verifies token and returns the principal it stands for, with Kind
// [KindUser]. It accepts only what [Tokens.Issue] makes with the same
// secret: signed with HS256 (never "none", RS256 or any other algorithm),
// issuer "hookd", an exp claim that is still in the future by the injected
// clock, a subject and a known role. Anything else returns an error
// wrapping [ErrInvalidToken] with the reason.
func (t *Tokens) Parse(token string) (Principal, error) {
	if token == "" {
		return Principal{}, fmt.Errorf("%w: empty", ErrInvalidToken)
	}
	if len(token) > maxTokenBytes {
		return Principal{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenBytes)
	}
	var c claims
	_, err := t.parser.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		// WithValidMethods already checked the header; checking the type
		// too keeps a future change of options from opening the door.
		if tok.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", tok.Header["alg"])
		}
		return t.secret, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, errTokenExpired)
	case err != nil:
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	case c.Subject == "":
		return Principal{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	role, err := ParseRole(c.Role)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return Principal{Username: c.Subject, Role: role, Kind: KindUser}, nil
}

// NewSecret returns a new random signing secret of [SecretBytes] bytes. It
// never fails.
func NewSecret() []byte {
	b := make([]byte, SecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails; it crashes the program instead
	return b
}

// EncodeSecret returns secret in standard, padded base64: the form hookd
// stores and that JWT_SECRET takes (`openssl rand -base64 32` makes one).
func EncodeSecret(secret []byte) string {
	return base64.StdEncoding.EncodeToString(secret)
}

// DecodeSecret parses a secret written by [EncodeSecret] or by a person:
// standard or URL-safe base64, padded or not, surrounding spaces ignored.
// It returns an error wrapping webhook.ErrInvalid, naming the field
// "jwt_secret", when s is not base64 or decodes to fewer than
// [SecretBytes] bytes. The error never contains s.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) < SecretBytes {
			return nil, fmt.Errorf("%w: jwt_secret: must hold at least %d bytes, has %d", webhook.ErrInvalid, SecretBytes, len(b))
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: jwt_secret: not base64", webhook.ErrInvalid)
}
