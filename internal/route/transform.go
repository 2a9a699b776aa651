package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strings"

	"github.com/hookd/hookd/internal/expr"
	"github.com/hookd/hookd/internal/webhook"
)

// Transform is a compiled destination transform: a jq program that turns
// the request hookd would send into the one it sends.
type Transform struct {
	prog *expr.Program
}

// CompileTransform compiles a transform. The error is an
// *expr.SyntaxError, whose text names the line and column when the
// problem has a position.
func CompileTransform(src string) (*Transform, error) {
	p, err := expr.Compile(src)
	if err != nil {
		return nil, err
	}
	return &Transform{prog: p.WithTimeout(TransformTimeout)}, nil
}

// Source is the transform's text as compiled.
func (t *Transform) Source() string { return t.prog.Source() }

// Request is an outbound request before hookd's own headers (Standard
// Webhooks, User-Agent, Content-Length) are added.
type Request struct {
	Method string
	URL    string
	// Headers are the destination's extra headers and Content-Type.
	Headers map[string]string
	Body    []byte
}

// TransformInput is what a transform reads: the request as it would be
// sent without the transform, and the event's identity.
type TransformInput struct {
	Request
	Type, Source, EventID string
}

// Error is a transform that failed on one event. Its text starts with
// "transform: " and it wraps webhook.ErrTransform, which is how the
// delivery engine tells it from a transport failure.
type Error struct {
	Msg string
}

func (e *Error) Error() string { return "transform: " + e.Msg }

// Unwrap makes errors.Is(err, webhook.ErrTransform) hold.
func (e *Error) Unwrap() error { return webhook.ErrTransform }

func failf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Methods a transform may choose.
var transformMethods = map[string]bool{"POST": true, "PUT": true, "PATCH": true}

// reservedHeaders are hookd's own on every delivery, or the HTTP client's:
// a transform cannot set them, so the signature and framing stay hookd's.
// Content-Type is not among them: a transform that reshapes the payload
// may have to say what it became.
var reservedHeaders = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true,
	"user-agent": true, "webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
}

// Bounds on the headers a transform returns, as on a destination's own.
const (
	maxHeaders          = 50
	maxHeaderNameBytes  = 256
	maxHeaderValueBytes = 8192
)

// Input is the value the program reads:
//
//	{"method": "POST", "url": …, "headers": {lower-case name: value},
//	 "payload": <body as JSON, or the body as a string when it is not JSON>,
//	 "type": …, "source": …, "event_id": …}
func (in TransformInput) Input() map[string]any {
	var payload any = string(in.Body)
	if v, err := expr.Decode(in.Body); err == nil {
		payload = v
	}
	return map[string]any{
		"method": in.Method, "url": in.URL, "headers": lowerHeaders(in.Headers), "payload": payload,
		"type": in.Type, "source": in.Source, "event_id": in.EventID,
	}
}

// Apply runs the transform and returns the request to send. The result
// must be an object; each of its fields replaces the request's when
// present, the others are kept:
//
//   - method: POST, PUT or PATCH;
//   - url: an absolute http:// or https:// URL (the SSRF guard still
//     applies when it is dialled);
//   - headers: an object of string values, the complete set of extra
//     headers (Content-Type included); hookd's own cannot be set;
//   - payload: a string is sent as is; anything else is sent as its JSON,
//     with Content-Type application/json unless headers name another.
//
// Other fields (type, source, event_id, anything else) are ignored, so
// that `.payload |= …` is a complete transform. Every failure is an
// *Error.
func (t *Transform) Apply(ctx context.Context, in TransformInput) (Request, error) {
	v, err := t.prog.First(ctx, in.Input())
	if err != nil {
		return Request{}, &Error{Msg: message(err)}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Request{}, failf("the result must be an object with method, url, headers or payload, not %s", kind(v))
	}
	out := Request{Method: in.Method, URL: in.URL, Headers: in.Headers, Body: in.Body}
	if m, ok := obj["method"]; ok {
		s, isString := m.(string)
		s = strings.ToUpper(s)
		if !isString || !transformMethods[s] {
			return Request{}, failf("method must be POST, PUT or PATCH")
		}
		out.Method = s
	}
	if u, ok := obj["url"]; ok {
		s, isString := u.(string)
		if !isString {
			return Request{}, failf("url must be a string, not %s", kind(u))
		}
		if err := CheckURL(s); err != nil {
			return Request{}, failf("url: %v", err)
		}
		out.URL = s
	}
	headersSet := false
	if h, ok := obj["headers"]; ok {
		hm, isObject := h.(map[string]any)
		if !isObject {
			return Request{}, failf("headers must be an object of strings, not %s", kind(h))
		}
		if out.Headers, err = checkHeaders(hm); err != nil {
			return Request{}, err
		}
		headersSet = true
	}
	if p, ok := obj["payload"]; ok {
		if s, isString := p.(string); isString {
			if len(s) > expr.MaxOutputBytes {
				return Request{}, &Error{Msg: expr.ErrTooLarge.Error()}
			}
			out.Body = []byte(s)
		} else {
			b, err := expr.Encode(p)
			if err != nil {
				return Request{}, failf("payload: %v", err)
			}
			out.Body = b
			if !headersSet || !hasHeader(out.Headers, "Content-Type") {
				out.Headers = withHeader(out.Headers, "Content-Type", "application/json")
			}
		}
	}
	return out, nil
}

// CheckURL accepts an absolute http:// or https:// URL with a host, as a
// destination's URL must be.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http:// or https:// URL", s)
	}
	return nil
}

// checkHeaders turns a transform's headers object into a header map,
// refusing what the destination's own headers may not be either.
func checkHeaders(hm map[string]any) (map[string]string, error) {
	if len(hm) > maxHeaders {
		return nil, failf("at most %d headers", maxHeaders)
	}
	names := make([]string, 0, len(hm))
	for name := range hm {
		names = append(names, name)
	}
	sort.Strings(names) // the first problem reported is the same every time
	out := make(map[string]string, len(hm))
	for _, name := range names {
		value, isString := hm[name].(string)
		switch {
		case !validHeaderName(name):
			return nil, failf("header %q is not a valid header name", name)
		case reservedHeaders[strings.ToLower(name)]:
			return nil, failf("header %q is set by hookd and cannot be replaced", name)
		case !isString:
			return nil, failf("header %q must be a string, not %s", name, kind(hm[name]))
		case len(value) > maxHeaderValueBytes || strings.ContainsAny(value, "\r\n\x00"):
			return nil, failf("header %q must be at most %d bytes without line breaks", name, maxHeaderValueBytes)
		}
		out[name] = value
	}
	return out, nil
}

// hasHeader reports whether h holds name, in any case.
func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// withHeader returns a copy of h with name set to value, replacing it in
// any case.
func withHeader(h map[string]string, name, value string) map[string]string {
	out := make(map[string]string, len(h)+1)
	for k, v := range h {
		if !strings.EqualFold(k, name) {
			out[k] = v
		}
	}
	out[name] = value
	return out
}

// validHeaderName accepts RFC 9110 tokens.
func validHeaderName(h string) bool {
	if h == "" || len(h) > maxHeaderNameBytes {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", c):
		default:
			return false
		}
	}
	return true
}

// kind names a program value's JSON type for error messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case json.Number, int, float64, *big.Int:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// message is a run's error as a person should read it: the text a
// program gave error() as is (jq's own wording is "error: <text>").
func message(err error) string {
	var ve interface{ Value() any }
	if errors.As(err, &ve) {
		if s, ok := ve.Value().(string); ok {
			return s
		}
	}
	return err.Error()
}
