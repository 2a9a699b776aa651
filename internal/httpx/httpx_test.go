package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/webhook"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	custom := httpx.Errorf(http.StatusTeapot, "teapot", "short and stout")
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		message    string // "" means any non-empty message
		retryAfter time.Duration
	}{
		{"body too large", webhook.ErrBodyTooLarge, 413, "body_too_large", "", 0},
		{"max bytes error", &http.MaxBytesError{Limit: 10}, 413, "body_too_large", "", 0},
		{"wrapped max bytes error", fmt.Errorf("read body: %w", &http.MaxBytesError{Limit: 10}), 413, "body_too_large", "", 0},
		{"unknown source", webhook.ErrUnknownSource, 404, "unknown_source", "", 0},
		{"wrapped unknown source", fmt.Errorf("source %q: %w", "x", webhook.ErrUnknownSource), 404, "unknown_source", "", 0},
		{"not found", webhook.ErrNotFound, 404, "not_found", "not found", 0},
		{"unauthorized", webhook.ErrUnauthorized, 401, "invalid_signature", "", 0},
		{"invalid", webhook.ErrInvalid, 400, "invalid", "", 0},
		{"wrapped invalid keeps the reason", fmt.Errorf("%w: name is required", webhook.ErrInvalid), 400, "invalid", "invalid input: name is required", 0},
		{"closed", webhook.ErrClosed, 503, "shutting_down", "", 5 * time.Second},
		{"wrapped closed", fmt.Errorf("store event: %w", webhook.ErrClosed), 503, "shutting_down", "", 5 * time.Second},
		{"unknown error", errors.New("pq: connection refused to 10.0.0.5"), 500, "internal", "internal error", 0},
		{"wrapped unknown error", fmt.Errorf("store event: %w", errors.New("disk full")), 500, "internal", "internal error", 0},
		{"custom *Error", custom, http.StatusTeapot, "teapot", "short and stout", 0},
		{"wrapped custom *Error", fmt.Errorf("handler: %w", custom), http.StatusTeapot, "teapot", "short and stout", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			he := httpx.Classify(tt.err)
			if he.Status != tt.status || he.Code != tt.code || he.RetryAfter != tt.retryAfter {
				t.Errorf("Classify(%v) = {%d %q RetryAfter %s}, want {%d %q RetryAfter %s}",
					tt.err, he.Status, he.Code, he.RetryAfter, tt.status, tt.code, tt.retryAfter)
			}
			if tt.message != "" && he.Message != tt.message {
				t.Errorf("Classify(%v).Message = %q, want %q", tt.err, he.Message, tt.message)
			}
			if he.Message == "" {
				t.Errorf("Classify(%v).Message is empty", tt.err)
			}
			// The cause stays reachable for the log; an *Error found inside
			// err is returned itself (WriteError logs err, wrapping and all).
			if !errors.Is(he, tt.err) && !errors.Is(tt.err, he) {
				t.Errorf("Classify(%v) does not keep the cause for the log", tt.err)
			}
		})
	}
}

func TestErrorUnwrapAndString(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	e := &httpx.Error{Status: 500, Code: "internal", Message: "internal error", Err: cause}
	if !errors.Is(e, cause) {
		t.Error("errors.Is(*Error, cause) = false")
	}
	if got := e.Error(); got != "internal error: cause" {
		t.Errorf("Error() = %q", got)
	}
	if got := httpx.Errorf(400, "bad", "bad request").Error(); got != "bad request" {
		t.Errorf("Errorf(...).Error() = %q", got)
	}
}

// logger writes text logs to buf.
func logger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter string
		logged     bool
	}{
		{"closed sets Retry-After", webhook.ErrClosed, 503, "shutting_down", "5", true},
		{"custom Retry-After rounds up", &httpx.Error{Status: 429, Code: "rate_limited", Message: "slow down", RetryAfter: 1500 * time.Millisecond}, 429, "rate_limited", "2", false},
		{"not found", webhook.ErrNotFound, 404, "not_found", "", false},
		{"too large", webhook.ErrBodyTooLarge, 413, "body_too_large", "", false},
		{"unauthorized", fmt.Errorf("%w: bad", webhook.ErrUnauthorized), 401, "invalid_signature", "", false},
		{"internal", errors.New("secret database detail"), 500, "internal", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/webhook/x", nil)
			httpx.WriteError(rec, req, logger(&logs), tt.err)

			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body, err)
			}
			if len(body) != 2 || body["code"] != tt.code {
				t.Errorf("body = %v, want exactly {\"error\", \"code\": %q}", body, tt.code)
			}
			if msg, ok := body["error"].(string); !ok || msg == "" {
				t.Errorf("body error = %v, want a message", body["error"])
			}
			if tt.status == 500 && strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("body %q leaks the cause", rec.Body)
			}
			if logged := logs.Len() > 0; logged != tt.logged {
				t.Errorf("logged = %v (%q), want %v", logged, logs.String(), tt.logged)
			}
			if tt.logged && !strings.Contains(logs.String(), tt.err.Error()) {
				t.Errorf("log %q does not carry the cause", logs.String())
			}
		})
	}
}

func TestWriteErrorNilLogger(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), nil, errors.New("boom"))
	if rec.Code != 500 {
		t.Errorf("status = %d, want 500", rec.Code)
	}
}

func TestHandle(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := httpx.Handle(logger(&logs), func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Query().Get("fail") != "" {
			return fmt.Errorf("lookup: %w", webhook.ErrNotFound)
		}
		httpx.WriteJSON(w, http.StatusCreated, map[string]string{"ok": "yes"})
		return nil
	})
	tests := []struct {
		target string
		status int
		body   string
	}{
		{"/", http.StatusCreated, `{"ok":"yes"}`},
		{"/?fail=1", http.StatusNotFound, `{"code":"not_found","error":"not found"}`},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodGet, tt.target, nil))
		body, err := io.ReadAll(rec.Body)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if rec.Code != tt.status || strings.TrimSpace(string(body)) != tt.body {
			t.Errorf("GET %s = %d %s, want %d %s", tt.target, rec.Code, body, tt.status, tt.body)
		}
	}
}
