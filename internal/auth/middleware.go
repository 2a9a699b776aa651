package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/webhook"
)

// APIKeyLookup finds the owner of an API key. The store satisfies it
// without knowing this package's needs.
type APIKeyLookup interface {
	// APIKeyGetByHash returns the principal of the key whose
	// HashAPIKey(plaintext) is hash, or an error wrapping webhook.ErrNotFound
	// when there is none (or it was revoked). Any other error is treated as
	// an internal failure, not as a bad key.
	APIKeyGetByHash(ctx context.Context, hash string) (Principal, error)
}

// errNoCredentials means the request carried no Authorization header.
var errNoCredentials = errors.New("no credentials")

// Authenticate returns middleware that lets a request through only with
// valid credentials in "Authorization: Bearer <credential>" (the scheme is
// matched case-insensitively). A credential starting with "hk_" is an API
// key, looked up by its hash in keys (a nil keys refuses every key, Kind
// [KindAPIKey] is set on the principal it returns); anything else is a token
// for tokens.Parse (a nil tokens refuses every token). On success the next
// handler sees the [Principal] through [PrincipalFrom].
//
// Otherwise it answers 401 with "WWW-Authenticate: Bearer" and a JSON body
// {"error","code"}: code "unauthorized" when there is no header or it does
// not use the Bearer scheme, "invalid_token" when the credential is empty,
// malformed, forged, expired or unknown. A failing key lookup answers 500
// and logs the cause on logger (which may be nil). Credentials are never
// logged.
func Authenticate(tokens *Tokens, keys APIKeyLookup, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := authenticate(r, tokens, keys)
			if err != nil {
				writeAuthError(w, r, logger, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// authenticate returns the request's principal or why there is none.
func authenticate(r *http.Request, tokens *Tokens, keys APIKeyLookup) (Principal, error) {
	credential, err := bearer(r.Header.Get("Authorization"))
	if err != nil {
		return Principal{}, err
	}
	if !strings.HasPrefix(credential, APIKeyPrefix) {
		if tokens == nil {
			return Principal{}, fmt.Errorf("%w: tokens are not accepted here", ErrInvalidToken)
		}
		return tokens.Parse(credential)
	}
	if keys == nil {
		return Principal{}, fmt.Errorf("%w: API keys are not accepted here", ErrInvalidToken)
	}
	if !looksLikeAPIKey(credential) {
		return Principal{}, fmt.Errorf("%w: malformed API key", ErrInvalidToken)
	}
	p, err := keys.APIKeyGetByHash(r.Context(), HashAPIKey(credential))
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		return Principal{}, fmt.Errorf("%w: unknown API key", ErrInvalidToken)
	case err != nil:
		return Principal{}, fmt.Errorf("look up API key: %w", err)
	}
	p.Kind = KindAPIKey
	return p, nil
}

// bearer extracts the credential of an Authorization header value. It
// returns errNoCredentials for an empty header or another scheme, and
// ErrInvalidToken for a Bearer header whose credential is empty or holds
// spaces (RFC 6750's b64token has none).
func bearer(header string) (string, error) {
	if header == "" {
		return "", errNoCredentials
	}
	scheme, credential, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: not a Bearer authorization", errNoCredentials)
	}
	credential = strings.Trim(credential, " \t")
	if credential == "" || strings.ContainsAny(credential, " \t") {
		return "", fmt.Errorf("%w: malformed Bearer authorization", ErrInvalidToken)
	}
	return credential, nil
}

// writeAuthError answers a refused request.
func writeAuthError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	he := HTTPError(err)
	if errors.Is(err, errNoCredentials) {
		he = &httpx.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "authentication required: send Authorization: Bearer <token>", Err: err}
	}
	if he == nil {
		httpx.WriteError(w, r, logger, err) // an internal failure: 500, cause logged
		return
	}
	if he.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if logger != nil {
		logger.LogAttrs(r.Context(), slog.LevelDebug, "request not authenticated",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("code", he.Code), slog.Any("err", err))
	}
	httpx.WriteError(w, r, logger, he)
}

// RequireWrite returns a handler that calls next only for a principal that
// may change things ([Principal.CanWrite]); it must sit behind
// [Authenticate]. A viewer gets 403 with code "forbidden"; a request with
// no principal at all (the middleware is missing) gets 401, so that a
// wiring mistake fails closed.
func RequireWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			w.Header().Set("WWW-Authenticate", "Bearer")
			httpx.WriteError(w, r, nil, &httpx.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "authentication required", Err: errNoCredentials})
			return
		}
		if !p.CanWrite() {
			httpx.WriteError(w, r, nil, HTTPError(fmt.Errorf("%w: role %q cannot write", ErrForbidden, p.Role)))
			return
		}
		next.ServeHTTP(w, r)
	})
}
