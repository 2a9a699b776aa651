// Package client is a typed HTTP client for a running hookd: the management
// API under /api and the operations endpoints (/debug/status, /readyz). The
// operator commands (hookd status, hookd events, hookd listen) are thin
// layers over it.
//
// Requests and answers use the API's own types (internal/api), so the two
// cannot drift apart silently. Every error the server answers with becomes
// an *Error carrying the API's stable code ("not_found", "forbidden", …), so
// callers decide on codes, never on message text.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds one request-answer call (not a stream) when
// Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxAnswer bounds the answer body read into memory. An event's payload is
// at most a source's body limit (64 MiB at most) plus its JSON escaping.
const maxAnswer = 256 << 20

// Options configure a Client.
type Options struct {
	// BaseURL is the server, such as "http://127.0.0.1:4000"; a path on it
	// (a reverse proxy's prefix) is kept.
	BaseURL string
	// Token is sent as "Authorization: Bearer <Token>": a login token (JWT)
	// or an API key (hk_…). Empty sends no credentials, which only the
	// operations endpoints accept.
	Token string
	// HTTPClient does the requests; nil means a client without an overall
	// timeout (streams are long-lived; calls are bounded by Timeout).
	HTTPClient *http.Client
	// Timeout bounds each call but streams. Zero means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent on every request; empty means "hookd-cli".
	UserAgent string
}

// Client talks to one hookd server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	timeout   time.Duration
	userAgent string
}

// New returns a Client for opts.BaseURL, which must be an absolute http://
// or https:// URL.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: must be an absolute http:// or https:// URL such as http://127.0.0.1:4000", opts.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q: must not have a query or fragment", opts.BaseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, token: opts.Token, http: opts.HTTPClient, timeout: opts.Timeout, userAgent: opts.UserAgent}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = "hookd-cli"
	}
	return c, nil
}

// BaseURL is the server's URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// HasToken reports whether the client presents credentials.
func (c *Client) HasToken() bool { return c.token != "" }

// Error is an answer outside 2xx. Code and Message are the API's
// {"code","error"}; for an answer that is not hookd's JSON (a proxy's error
// page), Code is empty and Message holds the start of the body.
type Error struct {
	Method     string
	Path       string
	StatusCode int
	Code       string
	Message    string
	// RetryAfter is the answer's Retry-After, zero when absent.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = strings.ToLower(strings.ReplaceAll(http.StatusText(e.StatusCode), " ", "_"))
	}
	return fmt.Sprintf("%s %s: %s (%d %s)", e.Method, e.Path, e.Message, e.StatusCode, code)
}

// Code returns the API error code err carries ("not_found", "forbidden",
// …), or "" when err is not an answer from the server.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// StatusCode returns the HTTP status err carries, or 0 when err is not an
// answer from the server (a network error, a bad URL).
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// endpoint returns the absolute URL of path with query q. path starts with
// "/" and is escaped already (ids in it went through url.PathEscape), so
// that an id holding "/" stays one segment.
func (c *Client) endpoint(path string, q url.Values) string {
	u := *c.base
	if unescaped, err := url.PathUnescape(path); err == nil {
		u.RawPath = c.base.EscapedPath() + path
		u.Path += unescaped
	} else {
		u.Path += path // not from this package's builders; sent as it is
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// newRequest builds a request with the client's credentials and agent.
func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(path, q), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// call sends one request with in (when not nil) as its JSON body and
// decodes a 2xx answer into out (when not nil).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := c.newRequest(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err // a *url.Error, which names the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return answerError(method, path, resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// answerError reads a non-2xx answer into an *Error.
func answerError(method, path string, resp *http.Response) *Error {
	e := &Error{Method: method, Path: path, StatusCode: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // the status alone still says what happened
	var body struct {
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		e.Code, e.Message = body.Code, body.Error
		return e
	}
	msg := strings.TrimSpace(string(raw))
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Message = msg
	return e
}
