package auth

import (
	"errors"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/httpx"
)

// Sentinel errors. Callers check them with errors.Is; [HTTPError] maps each
// to one status and error code.
var (
	// ErrInvalidCredentials means a username and password did not match a
	// user. It deliberately does not say which of the two was wrong.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrInvalidToken means a bearer token or API key was malformed, forged,
	// expired or unknown. It is wrapped with the reason, which is for logs
	// and tests, not for clients.
	ErrInvalidToken = errors.New("invalid token")
	// ErrForbidden means the caller is authenticated but its role does not
	// allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrTooManyAttempts means a login was refused without checking the
	// password because too many recent attempts failed. Errors made by
	// [TooManyAttempts] also carry how long to wait.
	ErrTooManyAttempts = errors.New("too many failed login attempts")
)

// tooManyAttemptsError carries the wait before the next login attempt.
type tooManyAttemptsError struct {
	retryAfter time.Duration
}

func (e *tooManyAttemptsError) Error() string { return ErrTooManyAttempts.Error() }
func (e *tooManyAttemptsError) Unwrap() error { return ErrTooManyAttempts }

// TooManyAttempts returns an error wrapping [ErrTooManyAttempts] that tells
// the client, through [HTTPError]'s Retry-After, to wait retryAfter before
// trying again. Use it with the wait returned by [LoginLimiter.Allow].
func TooManyAttempts(retryAfter time.Duration) error {
	return &tooManyAttemptsError{retryAfter: retryAfter}
}

// HTTPError maps an error from this package to the *httpx.Error that
// httpx.WriteError sends, or returns nil when err is none of this package's
// sentinels (the caller then maps it as usual). Messages are safe to show:
// they never say whether a username exists or why a token was refused,
// except that an expired token says so, so that the dashboard knows to log
// in again.
//
//	ErrInvalidCredentials  401 invalid_credentials
//	ErrInvalidToken        401 invalid_token
//	ErrForbidden           403 forbidden
//	ErrTooManyAttempts     429 too_many_attempts (with Retry-After when known)
func HTTPError(err error) *httpx.Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInvalidCredentials):
		return &httpx.Error{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "invalid username or password", Err: err}
	case errors.Is(err, ErrInvalidToken):
		msg := "invalid or expired token"
		if errors.Is(err, errTokenExpired) {
			msg = "token has expired; log in again"
		}
		return &httpx.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: msg, Err: err}
	case errors.Is(err, ErrForbidden):
		return &httpx.Error{Status: http.StatusForbidden, Code: "forbidden", Message: "this action needs the admin role", Err: err}
	case errors.Is(err, ErrTooManyAttempts):
		he := &httpx.Error{Status: http.StatusTooManyRequests, Code: "too_many_attempts", Message: "too many failed login attempts; try again later", Err: err}
		var tm *tooManyAttemptsError
		if errors.As(err, &tm) {
			he.RetryAfter = tm.retryAfter
		}
		return he
	}
	return nil
}
