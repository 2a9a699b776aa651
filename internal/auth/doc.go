// Package auth owns who may use hookd's management API and what they may do:
// password hashing and the password policy, the signed tokens the dashboard
// logs in with, long-lived API keys for scripts, the roles admin and viewer,
// the HTTP middleware that turns an Authorization header into a Principal,
// and the limiter that slows down password guessing.
//
// It is a leaf: it knows nothing about where users and keys are stored.
// Callers hand it what it needs (a secret, a clock, an [APIKeyLookup]) and
// get back values and sentinel errors ([ErrInvalidCredentials],
// [ErrInvalidToken], [ErrForbidden], [ErrTooManyAttempts]) that [HTTPError]
// turns into hookd's JSON error responses.
//
// Secrets, passwords, tokens and API keys are never logged by this package,
// and callers must not log them either.
package auth
