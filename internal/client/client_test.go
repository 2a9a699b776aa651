package client_test

// These tests use small HTTP fakes to pin down what the client sends and
// how it reads answers and errors; cmd/hookd's tests run every command
// against the real server.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/client"
)

// setup serves h and returns a client for it presenting token.
func setup(t *testing.T, token string, h http.HandlerFunc) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(client.Options{BaseURL: srv.URL + "/", Token: token, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestNewRefusesBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "localhost:4000", "ftp://x", "http://", "http://h/?q=1", "http://h/#f", "://"} {
		if _, err := client.New(client.Options{BaseURL: u}); err == nil {
			t.Errorf("New(%q) succeeded; want an error", u)
		}
	}
	c, err := client.New(client.Options{BaseURL: "https://hooks.example.com/prefix/"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.BaseURL(), "https://hooks.example.com/prefix"; got != want {
		t.Errorf("BaseURL = %q; want %q", got, want)
	}
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		status      int
		body        string
		header      http.Header
		wantCode    string
		wantMessage string
		wantRetry   time.Duration
		wantText    string
	}{
		{
			name: "hookd's JSON error", status: 404, body: `{"code":"not_found","error":"not found"}`,
			wantCode: "not_found", wantMessage: "not found", wantText: "GET /api/webhooks/evt_1: not found (404 not_found)",
		},
		{
			name: "rate limited", status: 429, body: `{"code":"too_many_attempts","error":"too many failed logins"}`,
			header: http.Header{"Retry-After": {"7"}}, wantCode: "too_many_attempts", wantMessage: "too many failed logins", wantRetry: 7 * time.Second,
		},
		{
			name: "a proxy's page", status: 502, body: "<html>Bad Gateway</html>",
			wantMessage: "<html>Bad Gateway</html>", wantText: "GET /api/webhooks/evt_1: <html>Bad Gateway</html> (502 bad_gateway)",
		},
		{
			name: "empty body", status: 503,
			wantMessage: "Service Unavailable",
		},
		{
			name: "long body cut within a rune", status: 500, body: "a" + strings.Repeat("é", 150),
			wantMessage: "a" + strings.Repeat("é", 99) + "…",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := setup(t, "", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			_, err := c.Event(t.Context(), "evt_1")
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *client.Error", err, err)
			}
			if e.StatusCode != tc.status || e.Code != tc.wantCode || e.Message != tc.wantMessage || e.RetryAfter != tc.wantRetry {
				t.Errorf("error = %+v; want status %d code %q message %q retry %s", e, tc.status, tc.wantCode, tc.wantMessage, tc.wantRetry)
			}
			if client.Code(err) != tc.wantCode || client.StatusCode(err) != tc.status {
				t.Errorf("Code, StatusCode = %q, %d", client.Code(err), client.StatusCode(err))
			}
			if tc.wantText != "" && err.Error() != tc.wantText {
				t.Errorf("Error() = %q; want %q", err.Error(), tc.wantText)
			}
		})
	}
}

func TestNetworkErrorIsNotAnAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more
	c, err := client.New(client.Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.QueueStatus(t.Context())
	var ue *url.Error
	if !errors.As(err, &ue) || client.StatusCode(err) != 0 || client.Code(err) != "" {
		t.Errorf("error %v: want a *url.Error with no status or code", err)
	}
}

func TestRequests(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		call       func(ctx context.Context, c *client.Client) error
		wantMethod string
		wantURI    string
		wantBody   string
		answer     string
	}{
		{
			name: "list with every filter",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Events(ctx, client.ListParams{Status: "failed", Source: "github", Destination: "ci", Type: "push", Query: "a b",
					From: from, To: from.Add(time.Hour), Limit: 5, Page: 2, Cursor: "evt_X"})
				return err
			},
			wantMethod: "GET",
			wantURI:    "/base/api/webhooks?cursor=evt_X&destination=ci&from=2026-11-28T00%3A00%3A00Z&limit=5&page=2&q=a+b&source=github&status=failed&to=2026-11-28T01%3A00%3A00Z&type=push",
			answer:     `{"items":[],"page":2,"limit":5,"total":0}`,
		},
		{
			name: "list without filters",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.Events(ctx, client.ListParams{})
				return err
			},
			wantMethod: "GET", wantURI: "/base/api/webhooks", answer: `{"items":[]}`,
		},
		{
			name:       "retry escapes the id",
			call:       func(ctx context.Context, c *client.Client) error { _, err := c.Retry(ctx, "evt/../x"); return err },
			wantMethod: "POST", wantURI: "/base/api/webhooks/evt%2F..%2Fx/retry", answer: `{"event_id":"x","requeued":0}`,
		},
		{
			name:       "replay",
			call:       func(ctx context.Context, c *client.Client) error { _, err := c.Replay(ctx, "evt_1"); return err },
			wantMethod: "POST", wantURI: "/base/api/webhooks/evt_1/replay", answer: `{"event_id":"evt_1","deliveries":0,"delivery_ids":[]}`,
		},
		{
			name: "bulk retry",
			call: func(ctx context.Context, c *client.Client) error {
				_, err := c.BulkRetry(ctx, api.BulkRetryRequest{Source: "stripe", DryRun: true})
				return err
			},
			wantMethod: "POST", wantURI: "/base/api/webhooks/retry",
			wantBody: `{"source":"stripe","destination":"","from":"","to":"","dry_run":true}`,
			answer:   `{"matched":3,"requeued":0,"dry_run":true}`,
		},
		{
			name:       "queue status",
			call:       func(ctx context.Context, c *client.Client) error { _, err := c.QueueStatus(ctx); return err },
			wantMethod: "GET", wantURI: "/base/debug/status", answer: `{"queue_length":1}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got struct{ method, uri, auth, body, ua string }
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("read request: %v", err)
				}
				got.method, got.uri, got.auth, got.body, got.ua = r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), string(body), r.Header.Get("User-Agent")
				fmt.Fprint(w, tc.answer)
			}))
			t.Cleanup(srv.Close)
			c, err := client.New(client.Options{BaseURL: srv.URL + "/base", Token: "hk_secret", UserAgent: "test-agent"})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.call(t.Context(), c); err != nil {
				t.Fatalf("call: %v", err)
			}
			if got.method != tc.wantMethod || got.uri != tc.wantURI {
				t.Errorf("sent %s %s; want %s %s", got.method, got.uri, tc.wantMethod, tc.wantURI)
			}
			if got.auth != "Bearer hk_secret" || got.ua != "test-agent" {
				t.Errorf("Authorization %q, User-Agent %q", got.auth, got.ua)
			}
			if got.body != tc.wantBody {
				t.Errorf("body %s; want %s", got.body, tc.wantBody)
			}
		})
	}
}

func TestEventPagesFollowsCursors(t *testing.T) {
	t.Parallel()
	// Three pages of two, then the last of one; the second page fails
	// the first time, to show that the walk stops at an error.
	pages := map[string]api.EventPage{
		"":      {Items: []api.EventView{{ID: "evt_5"}, {ID: "evt_4"}}, Total: 5, NextCursor: "evt_4"},
		"evt_4": {Items: []api.EventView{{ID: "evt_3"}, {ID: "evt_2"}}, Total: 3, NextCursor: "evt_2"},
		"evt_2": {Items: []api.EventView{{ID: "evt_1"}}, Total: 1},
	}
	failOnce := true
	c := setup(t, "k", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("source") != "github" || q.Get("limit") != "2" || q.Has("page") {
			http.Error(w, `{"code":"invalid","error":"bad query `+r.URL.RawQuery+`"}`, 400)
			return
		}
		cur := q.Get("cursor")
		if cur == "evt_4" && failOnce {
			failOnce = false
			w.WriteHeader(500)
			fmt.Fprint(w, `{"code":"internal","error":"internal error"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(pages[cur])
	})
	walk := func() (ids []string, err error) {
		for page, err := range c.EventPages(t.Context(), client.ListParams{Source: "github", Limit: 2, Page: 3}) {
			if err != nil {
				return ids, err
			}
			for _, e := range page.Items {
				ids = append(ids, e.ID)
			}
		}
		return ids, nil
	}
	ids, err := walk()
	if client.Code(err) != "internal" || strings.Join(ids, " ") != "evt_5 evt_4" {
		t.Fatalf("first walk: %v, %v; want the first page then the error", ids, err)
	}
	ids, err = walk()
	if err != nil || strings.Join(ids, " ") != "evt_5 evt_4 evt_3 evt_2 evt_1" {
		t.Fatalf("second walk: %v, %v; want every event", ids, err)
	}
}

func TestPayload(t *testing.T) {
	t.Parallel()
	cases := []struct {
		payload, encoding string
		want              string
		wantErr           bool
	}{
		{`{"a":1}`, "text", `{"a":1}`, false},
		{"AP8BYmluYXJ5", "base64", "\x00\xff\x01binary", false},
		{"not base64!", "base64", "", true},
		{"x", "gzip", "", true},
	}
	for _, tc := range cases {
		got, err := client.Payload(api.EventDetail{Payload: tc.payload, PayloadEncoding: tc.encoding})
		if (err != nil) != tc.wantErr || string(got) != tc.want {
			t.Errorf("Payload(%q, %q) = %q, %v; want %q (error: %v)", tc.payload, tc.encoding, got, err, tc.want, tc.wantErr)
		}
	}
}
