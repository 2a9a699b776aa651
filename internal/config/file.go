package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/signing"
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
}

// VerifyFile declares a source's signature scheme.
type VerifyFile struct {
	// Type is "none" or "github" (X-Hub-Signature-256, HMAC-SHA256).
	Type   string `yaml:"type"`
	Secret string `yaml:"secret"`
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
	// Timeout bounds one attempt, as a Go duration ("10s"); default 30s.
	Timeout string `yaml:"timeout"`
	// MaxInFlight caps concurrent attempts; default 16.
	MaxInFlight int `yaml:"max_in_flight"`
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
	bad := func(p, field, format string, args ...any) {
		errs = append(errs, &FileError{Path: path, Line: lineOf(p), Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	// checkName reports a missing, malformed or repeated name and records
	// it in seen.
	checkName := func(name, p, field string, seen map[string]bool) {
		switch {
		case name == "":
			bad(p, field+".name", "is required")
		case !webhook.ValidName(name):
			bad(p+".name", field+".name", "%q must be 1-64 letters, digits, '_', '-' or '.'", name)
		case seen[name]:
			bad(p+".name", field+".name", "%q is declared twice", name)
		}
		seen[name] = true
	}

	sources := map[string]bool{}
	c.Sources = c.Sources[:0]
	for i, s := range f.Sources {
		p := fmt.Sprintf("$.sources[%d]", i)
		field := fmt.Sprintf("sources[%d]", i)
		checkName(s.Name, p, field, sources)
		src := webhook.Source{Name: s.Name, MaxBodyBytes: s.MaxBodyBytes}
		if src.MaxBodyBytes == 0 {
			src.MaxBodyBytes = DefaultMaxBodyBytes
		}
		if src.MaxBodyBytes < 0 {
			bad(p+".max_body_bytes", field+".max_body_bytes", "must be positive")
		}
		if s.Verify != nil {
			switch s.Verify.Type {
			case "", "none":
			case "github":
				if s.Verify.Secret == "" {
					bad(p+".verify", field+".verify.secret", "is required for type github")
				}
				src.Verify = webhook.Verify{Type: s.Verify.Type, Secret: s.Verify.Secret}
			default:
				bad(p+".verify.type", field+".verify.type", "%q is not a supported scheme (none, github)", s.Verify.Type)
			}
		}
		c.Sources = append(c.Sources, src)
	}

	names := map[string]bool{}
	c.Destinations = c.Destinations[:0]
	for i, d := range f.Destinations {
		p := fmt.Sprintf("$.destinations[%d]", i)
		field := fmt.Sprintf("destinations[%d]", i)
		checkName(d.Name, p, field, names)
		if d.URL == "" {
			bad(p, field+".url", "is required")
		} else if u, err := url.Parse(d.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(p+".url", field+".url", "%q must be an absolute http:// or https:// URL", d.URL)
		}
		if len(d.Sources) == 0 {
			bad(p, field+".sources", "must name at least one source")
		}
		for j, s := range d.Sources {
			if s != "*" && !sources[s] {
				bad(fmt.Sprintf("%s.sources[%d]", p, j), fmt.Sprintf("%s.sources[%d]", field, j), "source %q is not declared under sources", s)
			}
		}
		if d.Secret != "" {
			if _, err := signing.NewSigner(d.Secret); err != nil {
				bad(p+".secret", field+".secret", "%v", err)
			}
		}
		dest := webhook.Destination{
			Name: d.Name, URL: d.URL, Sources: d.Sources, EventTypes: d.EventTypes,
			Headers: d.Headers, Secret: d.Secret, Timeout: DefaultTimeout, MaxInFlight: d.MaxInFlight,
		}
		if d.Timeout != "" {
			t, err := time.ParseDuration(d.Timeout)
			if err != nil || t <= 0 || t > 10*time.Minute {
				bad(p+".timeout", field+".timeout", "%q must be a duration between 1ms and 10m, such as 30s", d.Timeout)
			} else {
				dest.Timeout = t
			}
		}
		if dest.MaxInFlight == 0 {
			dest.MaxInFlight = DefaultMaxInFlight
		}
		if dest.MaxInFlight < 0 {
			bad(p+".max_in_flight", field+".max_in_flight", "must be positive")
		}
		c.Destinations = append(c.Destinations, dest)
	}
	return errors.Join(errs...)
}
