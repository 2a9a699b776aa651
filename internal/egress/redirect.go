package egress

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// MaxRedirects is how many redirects one attempt to a destination with
// FollowRedirects may follow.
const MaxRedirects = 5

// Errors of following redirects.
var (
	// ErrTooManyRedirects means the chain was longer than MaxRedirects.
	ErrTooManyRedirects = fmt.Errorf("stopped after %d redirects", MaxRedirects)
	// ErrRedirectDowngrade means an https URL redirected to http, which
	// would send the payload and its signature in clear text.
	ErrRedirectDowngrade = errors.New("redirect from https to http refused")
)

// redirector follows 301, 302, 307 and 308 by sending the same POST, with
// its body and headers, to the new location, through the base transport
// (so each hop's address passes the dial-time check). It does this itself
// because http.Client turns a POST into a bodiless GET on 301 and 302,
// which would deliver nothing and count as success. A 303 See Other is
// returned as the answer: it asks for a GET of another resource, which is
// not a delivery either.
type redirector struct {
	base http.RoundTripper
	max  int
}

// maxRedirectDrain is how much of a redirect's body is read so that its
// connection can be reused.
const maxRedirectDrain = 16 << 10

func (r *redirector) RoundTrip(req *http.Request) (*http.Response, error) {
	first := req.URL
	for hops := 0; ; hops++ {
		resp, err := r.base.RoundTrip(req)
		if err != nil {
			if hops > 0 {
				return nil, fmt.Errorf("redirect %d to %s: %w", hops, req.URL.Redacted(), err)
			}
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		loc := resp.Header.Get("Location")
		if loc == "" {
			return resp, nil // nowhere to go: the 3xx is the answer
		}
		discard(resp)
		if hops == r.max {
			return nil, ErrTooManyRedirects
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("redirect %d: bad Location: %w", hops+1, err)
		}
		if next.Scheme != "http" && next.Scheme != "https" {
			return nil, fmt.Errorf("redirect %d: scheme %q refused", hops+1, next.Scheme)
		}
		if req.URL.Scheme == "https" && next.Scheme == "http" {
			return nil, fmt.Errorf("redirect %d to %s: %w", hops+1, next.Redacted(), ErrRedirectDowngrade)
		}
		if req, err = redirected(req, next, first); err != nil {
			return nil, err
		}
	}
}

// redirected is req sent again to next, with a fresh copy of its body.
// Credentials that net/http would not carry to another host are dropped
// when the host changes.
func redirected(req *http.Request, next, first *url.URL) (*http.Request, error) {
	out := req.Clone(req.Context())
	out.URL = next
	out.Host = ""
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, errors.New("redirect: the request body cannot be sent again")
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("redirect: %w", err)
		}
		out.Body = body
	}
	if next.Hostname() != first.Hostname() {
		for _, h := range []string{"Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization"} {
			out.Header.Del(h)
		}
	}
	return out, nil
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRedirectDrain))
	_ = resp.Body.Close()
}
