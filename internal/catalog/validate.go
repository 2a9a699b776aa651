package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/egress"
	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/signing"
	"github.com/hookd/hookd/internal/verify"
	"github.com/hookd/hookd/internal/webhook"
)

// Validation is one implementation for both ways in: the configuration file
// (which adds the file and line) and the API (which answers 400). Every
// problem found is reported, each as a *FieldError naming the field as both
// spell it ("verify.secret", "sources[0]"), joined with errors.Join.

// FieldError is invalid input in one field (webhook.FieldError).
type FieldError = webhook.FieldError

// FieldErrors returns the *FieldErrors in err, which may be joined.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		var fe *FieldError
		switch e := err.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		default:
			if errors.As(err, &fe) {
				out = append(out, fe)
			}
		}
	}
	walk(err)
	return out
}

// invalid returns a *FieldError.
func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// problems collects field errors.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, invalid(field, format, args...))
}

func (p problems) err() error { return errors.Join(p...) }

// Limits of the values a source or destination may take.
const (
	// MaxBodyBytesLimit is the largest max_body_bytes a source may set.
	MaxBodyBytesLimit = 64 << 20
	maxTimeout        = 10 * time.Minute
	maxInFlightLimit  = 1000
	// maxRate bounds rate limits (requests per second).
	maxRate = 1_000_000
)

// ValidateName checks a source or destination name.
func ValidateName(name string) error {
	if name == "" {
		return invalid("name", "is required")
	}
	if !webhook.ValidName(name) {
		return invalid("name", "%q must be 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit", name)
	}
	return nil
}

// NormalizeSource validates s and fills its defaults.
func NormalizeSource(s webhook.Source) (webhook.Source, error) {
	var p problems
	if err := ValidateName(s.Name); err != nil {
		p = append(p, err)
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.MaxBodyBytes < 0 || s.MaxBodyBytes > MaxBodyBytesLimit {
		p.add("max_body_bytes", "must be between 1 and %d", MaxBodyBytesLimit)
	}
	if !(s.RateLimit >= 0 && s.RateLimit <= maxRate) { // NaN fails too
		p.add("rate_limit", "must be between 0 (no limit) and %d", maxRate)
	}
	if s.RateBurst < 0 {
		p.add("rate_burst", "must not be negative (0 means the rate limit rounded up)")
	}
	if s.RateBurst > 0 && s.RateLimit == 0 {
		p.add("rate_burst", "needs a rate_limit")
	}
	if s.Verify.Type == "none" {
		s.Verify.Type = webhook.VerifyNone
	}
	if err := verify.Validate(s.Verify); err != nil {
		p = append(p, err)
	}
	return s, p.err()
}

// validHeaderName accepts RFC 9110 tokens.
func validHeaderName(h string) bool {
	return h != "" && len(h) <= maxHeaderNameBytes && strings.IndexFunc(h, func(c rune) bool { return !isTokenChar(c) }) < 0
}

// isTokenChar reports whether c may appear in an HTTP header name (RFC
// 9110 token).
func isTokenChar(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", c)
}

// reservedHeaders are set by hookd on every delivery (or by the HTTP
// client) and cannot be replaced by a destination's extra headers.
var reservedHeaders = map[string]bool{
	"host": true, "content-length": true, "content-type": true, "transfer-encoding": true, "connection": true,
	"user-agent": true, "webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
}

// Bounds on a destination's extra headers.
const (
	maxHeaders          = 50
	maxHeaderNameBytes  = 256
	maxHeaderValueBytes = 8192
)

// validateHeaders checks extra headers so that a bad one is refused when
// it is declared instead of failing every attempt.
func validateHeaders(h map[string]string, p *problems) {
	if len(h) > maxHeaders {
		p.add("headers", "at most %d headers", maxHeaders)
	}
	for name, value := range h {
		field := fmt.Sprintf("headers[%q]", name)
		switch {
		case !validHeaderName(name):
			p.add(field, "is not a valid header name")
		case reservedHeaders[strings.ToLower(name)]:
			p.add(field, "is set by hookd and cannot be replaced")
		case len(value) > maxHeaderValueBytes || strings.ContainsAny(value, "\r\n\x00"):
			p.add(field, "value must be at most %d bytes without line breaks", maxHeaderValueBytes)
		}
	}
}

// ValidateDestination checks d and fills its defaults, except the secret:
// a destination without one keeps none (the configuration file's are
// generated and stored at start; NormalizeDestination generates the API's).
func ValidateDestination(d webhook.Destination, sourceExists func(string) bool) (webhook.Destination, error) {
	var p problems
	if err := ValidateName(d.Name); err != nil {
		p = append(p, err)
	}
	if d.URL == "" {
		p.add("url", "is required")
	} else if u, err := url.Parse(d.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("url", "%q must be an absolute http:// or https:// URL", d.URL)
	}
	if len(d.Sources) == 0 {
		p.add("sources", "must name at least one source")
	}
	for i, s := range d.Sources {
		if s != "*" && !sourceExists(s) {
			p.add(fmt.Sprintf("sources[%d]", i), "source %q does not exist", s)
		}
	}
	for i, pat := range d.EventTypes {
		if pat == "" {
			p.add(fmt.Sprintf("event_types[%d]", i), "must not be empty")
		}
	}
	validateHeaders(d.Headers, &p)
	validatePrograms(&d, &p)
	validateOrdering(&d, &p)
	if d.Secret != "" {
		if _, err := signing.NewSigner(d.Secret); err != nil {
			p.add("secret", "%v", err)
		}
	}
	if d.PreviousSecret != "" {
		if _, err := signing.NewSigner(d.PreviousSecret); err != nil {
			p.add("previous_secret", "%v", err)
		}
		if d.PreviousSecretUntil.IsZero() {
			p.add("previous_secret_until", "is required with previous_secret: when the old secret stops signing")
		}
	} else if !d.PreviousSecretUntil.IsZero() {
		p.add("previous_secret_until", "needs a previous_secret")
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultTimeout
	}
	if d.Timeout < time.Millisecond || d.Timeout > maxTimeout {
		p.add("timeout", "must be between 1ms and 10m")
	}
	if d.MaxInFlight == 0 {
		d.MaxInFlight = DefaultMaxInFlight
	}
	if d.MaxInFlight < 0 || d.MaxInFlight > maxInFlightLimit {
		p.add("max_in_flight", "must be between 1 and %d", maxInFlightLimit)
	}
	if !(d.RateLimit >= 0 && d.RateLimit <= maxRate) { // NaN fails too
		p.add("rate_limit", "must be between 0 (no limit) and %d", maxRate)
	}
	validateRetry(&d.Retry, &p)
	if (d.ClientCert == "") != (d.ClientKey == "") {
		p.add("client_key", "client_cert and client_key go together")
	}
	if (d.CACert != "" || d.ClientCert != "") && strings.HasPrefix(strings.ToLower(d.URL), "http://") {
		p.add("url", "must be https:// when ca_cert or client_cert is set")
	}
	for _, fe := range FieldErrors(egress.ValidateTLS(d)) {
		p = append(p, fe)
	}
	return d, p.err()
}

// validatePrograms compiles a destination's filter and transform, so
// that a program that does not compile is refused when it is declared,
// naming its line and column, rather than failing every event. A program
// of blanks is no program.
func validatePrograms(d *webhook.Destination, p *problems) {
	if strings.TrimSpace(d.Filter) == "" {
		d.Filter = ""
	} else if _, err := route.CompileFilter(d.Filter); err != nil {
		p.add("filter", "%v", err)
	}
	if strings.TrimSpace(d.Transform) == "" {
		d.Transform = ""
	} else if _, err := route.CompileTransform(d.Transform); err != nil {
		p.add("transform", "%v", err)
	}
}

// NormalizeDestination validates d, fills its defaults, and generates a
// signing secret when it has none.
func NormalizeDestination(d webhook.Destination, sourceExists func(string) bool) (webhook.Destination, error) {
	d, err := ValidateDestination(d, sourceExists)
	if err != nil {
		return d, err
	}
	if d.Secret == "" {
		d.Secret = signing.NewSecret()
	}
	return d, nil
}
