// Package httpx is hookd's small HTTP kit: handlers that return errors, and
// the one place that maps an error to a status code, a stable error code and
// a safe public message. Unknown errors become 500 with a generic message;
// their cause goes to the log, never to the client.
package httpx

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// Error is an error with an HTTP meaning. Message is shown to the client;
// Err (the cause) is only logged.
type Error struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a client-facing message.
func Errorf(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// HandlerFunc is an http.HandlerFunc that may fail.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h, writing any error it returns through WriteError.
func Handle(logger *slog.Logger, h HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, logger, err)
		}
	}
}

// Classify maps err to the *Error sent to the client.
func Classify(err error) *Error {
	var he *Error
	if errors.As(err, &he) {
		return he
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, webhook.ErrBodyTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "request body is larger than this source accepts", Err: err}
	case errors.Is(err, webhook.ErrUnknownSource):
		return &Error{Status: http.StatusNotFound, Code: "unknown_source", Message: "no source with this name is configured", Err: err}
	case errors.Is(err, webhook.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "not found", Err: err}
	case errors.Is(err, webhook.ErrUnauthorized):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_signature", Message: err.Error(), Err: err}
	case errors.Is(err, webhook.ErrConflict):
		// Conflict messages name the clashing thing ("source \"x\":
		// conflict", "declared in the configuration file") and never hold
		// internals.
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: err.Error(), Err: err}
	case errors.Is(err, webhook.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error(), Err: err}
	case errors.Is(err, webhook.ErrClosed):
		return &Error{Status: http.StatusServiceUnavailable, Code: "shutting_down", Message: "server is shutting down", RetryAfter: 5 * time.Second, Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error", Err: err}
}

// WriteError writes err as JSON {"error","code"}, logging 5xx causes.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	he := Classify(err)
	if he.Status >= 500 && logger != nil {
		logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", he.Status, "err", err)
	}
	if he.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((he.RetryAfter+time.Second-1)/time.Second)))
	}
	WriteJSON(w, he.Status, map[string]string{"error": he.Message, "code": he.Code})
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do
}
