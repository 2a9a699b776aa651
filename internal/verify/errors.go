package verify

import (
	"errors"

	"github.com/hookd/hookd/internal/webhook"
)

// The kinds of verification failure. Every *Error wraps exactly one of
// them, and webhook.ErrUnauthorized too.
var (
	// ErrMissing means a header (or query parameter) the scheme needs is
	// absent or empty.
	ErrMissing = errors.New("is missing")
	// ErrMalformed means it is present but cannot be parsed.
	ErrMalformed = errors.New("is malformed")
	// ErrExpired means a signed timestamp lies outside the replay window
	// (too old, or too far in the future).
	ErrExpired = errors.New("is outside the replay window")
	// ErrMismatch means a well-formed signature or credential is wrong.
	ErrMismatch = errors.New("does not match")
	// ErrForbidden means the client address is not in the source's
	// allow-list. Callers that can answer 403 for it should; others may
	// treat it as any webhook.ErrUnauthorized (401).
	ErrForbidden = errors.New("is not allowed")
)

// Error is a failed verification. Its text names what was wrong (a
// header, query parameter or the client address) and why, and never holds
// a secret or an expected signature, so it may be shown to the client.
type Error struct {
	// Part is what failed: "Stripe-Signature header", `query parameter
	// "token"`, "client address 203.0.113.7".
	Part string
	// Kind is ErrMissing, ErrMalformed, ErrExpired, ErrMismatch or
	// ErrForbidden.
	Kind error
	// Reason adds detail, or is empty.
	Reason string
}

// Detail is the message without the "signature verification failed"
// prefix: Part, Kind and Reason.
func (e *Error) Detail() string {
	s := e.Part + " " + e.Kind.Error()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (e *Error) Error() string { return webhook.ErrUnauthorized.Error() + ": " + e.Detail() }

// Unwrap makes errors.Is match both webhook.ErrUnauthorized and Kind.
func (e *Error) Unwrap() []error { return []error{webhook.ErrUnauthorized, e.Kind} }

func fail(part string, kind error, reason string) *Error {
	return &Error{Part: part, Kind: kind, Reason: reason}
}

// FieldError is a webhook.Verify field that fails validation: the one
// field error type every validator shares. Field is the configuration name
// ("verify.header", "verify.allow_ips[2]").
type FieldError = webhook.FieldError
