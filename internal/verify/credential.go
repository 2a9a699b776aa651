package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// bearerToken strips an optional "Bearer" scheme (any case) and the
// spaces after it from an Authorization value.
func bearerToken(value string) string {
	const scheme = "bearer"
	if len(value) >= len(scheme) && strings.EqualFold(value[:len(scheme)], scheme) &&
		(len(value) == len(scheme) || value[len(scheme)] == ' ') {
		return strings.TrimLeft(value[len(scheme):], " ")
	}
	return value
}

// verifyToken checks a shared token, in the configured query parameter or
// header (in Authorization, "Bearer <token>" or the bare token). Digests
// are compared, so the time taken says nothing about the token's length
// or how much of it matched.
func (v *Verifier) verifyToken(r *http.Request) error {
	var part, got string
	if v.query != "" {
		part = fmt.Sprintf("query parameter %q", v.query)
		got = r.URL.Query().Get(v.query)
	} else {
		part = v.header + " header"
		got = r.Header.Get(v.header)
		if v.header == HeaderAuthorization {
			got = bearerToken(got)
		}
	}
	if got == "" {
		return fail(part, ErrMissing, "")
	}
	digest := sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(digest[:], v.tokenDigest[:]) != 1 {
		return fail(part, ErrMismatch, "")
	}
	return nil
}

// verifyBasic checks HTTP Basic credentials. User name and password are
// both compared, whatever the first comparison says, and the error does
// not say which was wrong.
func (v *Verifier) verifyBasic(r *http.Request) error {
	const part = HeaderAuthorization + " header"
	if r.Header.Get(HeaderAuthorization) == "" {
		return fail(part, ErrMissing, "")
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return fail(part, ErrMalformed, "it is not Basic credentials")
	}
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	if subtle.ConstantTimeCompare(u[:], v.userDigest[:])&subtle.ConstantTimeCompare(p[:], v.passDigest[:]) != 1 {
		return fail(part, ErrMismatch, "")
	}
	return nil
}
