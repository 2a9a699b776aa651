package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/webhook"
)

// Defaults applied to sources and destinations declared without them: the
// same as for those created through the API.
const (
	DefaultMaxBodyBytes = catalog.DefaultMaxBodyBytes
	DefaultTimeout      = catalog.DefaultTimeout
	DefaultMaxInFlight  = catalog.DefaultMaxInFlight
)

// File is the shape of the YAML configuration file.
type File struct {
	Sources      []SourceFile      `yaml:"sources"`
	Destinations []DestinationFile `yaml:"destinations"`
}

// SourceFile declares one source.
type SourceFile struct {
	Name string `yaml:"name"`
	// MaxBodyBytes caps request bodies; default 1 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Verify selects signature verification; default none.
	Verify *VerifyFile `yaml:"verify"`
	// RateLimit caps accepted requests per second (per process); 0: none.
	RateLimit float64 `yaml:"rate_limit"`
	// RateBurst is the token bucket's size; default the rate rounded up.
	RateBurst int `yaml:"rate_burst"`
}

// VerifyFile declares a source's verification (webhook.Verify).
type VerifyFile struct {
	// Type is one of webhook.VerifyTypes.
	Type      string   `yaml:"type"`
	Secret    string   `yaml:"secret"`
	Header    string   `yaml:"header"`
	Query     string   `yaml:"query"`
	Algorithm string   `yaml:"algorithm"`
	Encoding  string   `yaml:"encoding"`
	Prefix    string   `yaml:"prefix"`
	Username  string   `yaml:"username"`
	Tolerance string   `yaml:"tolerance"`
	AllowIPs  []string `yaml:"allow_ips"`
}

// DestinationFile declares one destination.
type DestinationFile struct {
	Name       string            `yaml:"name"`
	URL        string            `yaml:"url"`
	Sources    []string          `yaml:"sources"`
	EventTypes []string          `yaml:"event_types"`
	Headers    map[string]string `yaml:"headers"`
	// Secret signs deliveries; generated and stored when absent.
	Secret string `yaml:"secret"`
	// PreviousSecret signs too until PreviousSecretUntil (RFC 3339).
	PreviousSecret      string `yaml:"previous_secret"`
	PreviousSecretUntil string `yaml:"previous_secret_until"`
	// Timeout bounds one attempt, as a Go duration ("10s"); default 30s.
	Timeout string `yaml:"timeout"`
	// MaxInFlight caps concurrent attempts; default 16.
	MaxInFlight int `yaml:"max_in_flight"`
	// RateLimit caps attempts per second; 0: none.
	RateLimit float64 `yaml:"rate_limit"`
	// CACert, ClientCert and ClientKey are PEM blocks.
	CACert          string `yaml:"ca_cert"`
	ClientCert      string `yaml:"client_cert"`
	ClientKey       string `yaml:"client_key"`
	FollowRedirects bool   `yaml:"follow_redirects"`
	// Retry is the destination's own retry policy; absent: the global one.
	Retry *RetryFile `yaml:"retry"`
	// Filter and Transform are jq programs (docs/routing.md).
	Filter    string `yaml:"filter"`
	Transform string `yaml:"transform"`
	// Ordering delivers events one at a time per key (docs/ordering.md).
	Ordering *OrderingFile `yaml:"ordering"`
}

// OrderingFile declares a destination's ordered delivery
// (webhook.Ordering): `{enabled: true}` makes the whole destination one
// sequence, `{key: "<jq program>"}` one sequence per key.
type OrderingFile struct {
	// Enabled defaults to true when the ordering block is present.
	Enabled *bool  `yaml:"enabled"`
	Key     string `yaml:"key"`
}

// RetryFile declares a destination's retry policy (webhook.RetrySettings).
type RetryFile struct {
	// MaxAttempts bounds attempts, the first included.
	MaxAttempts int `yaml:"max_attempts"`
	// MaxAge is a Go duration ("24h").
	MaxAge string `yaml:"max_age"`
	// Schedule is "exponential" or a list of delays, "5s,5m,30m".
	Schedule string `yaml:"schedule"`
}

// FileError is a problem in the configuration file, located by line.
type FileError struct {
	Path  string
	Line  int
	Field string
	Msg   string
}

func (e *FileError) Error() string {
	loc := e.Path
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.Path, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// decodeFile parses data strictly into f. goccy/go-yaml panics on some
// malformed input (v1.19.2 dereferences nil on "sources: !"); a bad config
// file must get an error naming it, not crash hookd, so a panic becomes an
// error.
func decodeFile(data []byte, f *File) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("could not parse this YAML (the parser failed on it)")
		}
	}()
	return yaml.UnmarshalWithOptions(data, f, yaml.DisallowUnknownField())
}

// LoadFile reads, parses and validates the configuration file at path and
// stores its sources and destinations in c. Every error is a *FileError
// (joined when there are several) naming the file, line and field.
func (c *Config) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &FileError{Path: path, Msg: err.Error()}
	}
	var f File
	if err := decodeFile(data, &f); err != nil {
		fe := &FileError{Path: path, Msg: err.Error()}
		var ye yaml.Error
		if errors.As(err, &ye) {
			fe.Msg = ye.GetMessage()
			if tok := ye.GetToken(); tok != nil && tok.Position != nil {
				fe.Line = tok.Position.Line
			}
		}
		return fe
	}
	ast, _ := parser.ParseBytes(data, 0) // it parsed above; used only for line numbers
	lineOf := func(p string) (line int) {
		defer func() {
			if recover() != nil {
				line = 0 // see decodeFile; a line number is not worth a crash
			}
		}()
		for p != "" && p != "$" {
			if yp, err := yaml.PathString(p); err == nil && ast != nil {
				if n, err := yp.FilterFile(ast); err == nil && n != nil && n.GetToken() != nil {
					return n.GetToken().Position.Line
				}
			}
			// Walk up to the parent: a missing field is reported on its block.
			i := strings.LastIndexAny(p, ".[")
			if i <= 0 {
				break
			}
			p = p[:i]
		}
		return 0
	}
	var errs []error
	reported := map[string]bool{} // fields with an error already
	bad := func(p, field, format string, args ...any) {
		reported[field] = true
		errs = append(errs, &FileError{Path: path, Line: lineOf(p), Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	// fieldErrors reports the catalog's verdict on one entry, each field
	// located under the entry's path.
	fieldErrors := func(err error, p, field string) {
		for _, fe := range catalog.FieldErrors(err) {
			if !reported[field+"."+fe.Field] { // a value that did not parse is not also missing
				bad(p+"."+fe.Field, field+"."+fe.Field, "%s", fe.Msg)
			}
		}
	}
	// duplicate reports a name declared before, and records it.
	duplicate := func(name, p, field string, seen map[string]bool) {
		if name != "" && seen[name] {
			bad(p+".name", field+".name", "%q is declared twice", name)
		}
		seen[name] = true
	}
	// duration parses a Go duration field; 0 when absent or bad (reported).
	duration := func(v, p, field string) time.Duration {
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(p, field, "%q must be a positive duration such as 30s or 5m", v)
			return 0
		}
		return d
	}

	sources := map[string]bool{}
	c.Sources = c.Sources[:0]
	for i, s := range f.Sources {
		p := fmt.Sprintf("$.sources[%d]", i)
		field := fmt.Sprintf("sources[%d]", i)
		duplicate(s.Name, p, field, sources)
		src := webhook.Source{Name: s.Name, MaxBodyBytes: s.MaxBodyBytes, RateLimit: s.RateLimit, RateBurst: s.RateBurst}
		if v := s.Verify; v != nil {
			src.Verify = webhook.Verify{
				Type: v.Type, Secret: v.Secret, Header: v.Header, Query: v.Query, Algorithm: v.Algorithm,
				Encoding: v.Encoding, Prefix: v.Prefix, Username: v.Username, AllowIPs: v.AllowIPs,
				Tolerance: duration(v.Tolerance, p+".verify.tolerance", field+".verify.tolerance"),
			}
		}
		src, err := catalog.NormalizeSource(src)
		fieldErrors(err, p, field)
		c.Sources = append(c.Sources, src)
	}

	names := map[string]bool{}
	c.Destinations = c.Destinations[:0]
	for i, d := range f.Destinations {
		p := fmt.Sprintf("$.destinations[%d]", i)
		field := fmt.Sprintf("destinations[%d]", i)
		duplicate(d.Name, p, field, names)
		dest := webhook.Destination{
			Name: d.Name, URL: d.URL, Sources: d.Sources, EventTypes: d.EventTypes, Headers: d.Headers,
			Secret: d.Secret, PreviousSecret: d.PreviousSecret, MaxInFlight: d.MaxInFlight, RateLimit: d.RateLimit,
			CACert: d.CACert, ClientCert: d.ClientCert, ClientKey: d.ClientKey, FollowRedirects: d.FollowRedirects,
			Filter: d.Filter, Transform: d.Transform,
		}
		if o := d.Ordering; o != nil {
			switch {
			case o.Enabled == nil || *o.Enabled:
				dest.Ordering = &webhook.Ordering{Key: o.Key}
			case o.Key != "":
				bad(p+".ordering.key", field+".ordering.key", "a key needs ordering enabled (remove enabled: false, or the key)")
			}
		}
		if d.Timeout != "" {
			t, err := time.ParseDuration(d.Timeout)
			if err != nil || t <= 0 {
				bad(p+".timeout", field+".timeout", "%q must be a duration between 1ms and 10m, such as 30s", d.Timeout)
			} else {
				dest.Timeout = t
			}
		}
		if r := d.Retry; r != nil {
			dest.Retry = webhook.RetrySettings{MaxAttempts: r.MaxAttempts, Schedule: r.Schedule,
				MaxAge: duration(r.MaxAge, p+".retry.max_age", field+".retry.max_age")}
		}
		if d.PreviousSecretUntil != "" {
			t, err := time.Parse(time.RFC3339, d.PreviousSecretUntil)
			if err != nil {
				bad(p+".previous_secret_until", field+".previous_secret_until", "%q must be an RFC 3339 time such as 2026-12-31T00:00:00Z", d.PreviousSecretUntil)
			}
			dest.PreviousSecretUntil = t
		}
		dest, err := catalog.ValidateDestination(dest, func(s string) bool { return sources[s] })
		fieldErrors(err, p, field)
		c.Destinations = append(c.Destinations, dest)
	}
	return errors.Join(errs...)
}
