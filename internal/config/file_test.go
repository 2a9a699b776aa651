package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/webhook"
)

// writeFile writes a config file into a fresh directory and returns its path.
func writeFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hookd.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// fileErrors returns every error in err's tree that is not itself a join
// or wrapper of others, and fails unless each is a *config.FileError.
func fileErrors(t testing.TB, err error) []*config.FileError {
	t.Helper()
	var out []*config.FileError
	var walk func(error)
	walk = func(e error) {
		if joined, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range joined.Unwrap() {
				walk(inner)
			}
			return
		}
		var fe *config.FileError
		if !errors.As(e, &fe) {
			t.Fatalf("error %q (%T) is not a *config.FileError", e, e)
		}
		out = append(out, fe)
	}
	walk(err)
	return out
}

const goodFile = `# hookd configuration
sources:
  - name: github
    verify: { type: github, secret: "gh-secret" }
  - name: stripe
    max_body_bytes: 2048
  - name: plain
    verify:
      type: none

destinations:
  - name: ci
    url: https://ci.example.com/hooks
    sources: [github]
    event_types: ["issues.*", push]
    headers:
      X-Team: platform
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
  - name: everything
    url: http://localhost:9000/in
    sources: ["*"]
    timeout: 5s
    max_in_flight: 4
`

func TestLoadFileGood(t *testing.T) {
	t.Parallel()
	path := writeFile(t, goodFile)
	c := config.Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	wantSources := []webhook.Source{
		{Name: "github", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: "github", Secret: "gh-secret"}},
		{Name: "stripe", MaxBodyBytes: 2048},
		{Name: "plain", MaxBodyBytes: 1 << 20},
	}
	wantDestinations := []webhook.Destination{
		{
			Name: "ci", URL: "https://ci.example.com/hooks", Sources: []string{"github"},
			EventTypes: []string{"issues.*", "push"}, Headers: map[string]string{"X-Team": "platform"},
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Timeout: 30 * time.Second, MaxInFlight: 16,
		},
		{
			Name: "everything", URL: "http://localhost:9000/in", Sources: []string{"*"},
			Timeout: 5 * time.Second, MaxInFlight: 4,
		},
	}
	if !reflect.DeepEqual(c.Sources, wantSources) {
		t.Errorf("Sources\n got  %+v\n want %+v", c.Sources, wantSources)
	}
	if !reflect.DeepEqual(c.Destinations, wantDestinations) {
		t.Errorf("Destinations\n got  %+v\n want %+v", c.Destinations, wantDestinations)
	}
	if c.Port != 4000 {
		t.Errorf("LoadFile changed Port to %d", c.Port)
	}
}

func TestLoadFileDefaults(t *testing.T) {
	t.Parallel()
	if config.DefaultMaxBodyBytes != 1<<20 || config.DefaultTimeout != 30*time.Second || config.DefaultMaxInFlight != 16 {
		t.Errorf("defaults = (%d, %s, %d), want (1 MiB, 30s, 16)",
			config.DefaultMaxBodyBytes, config.DefaultTimeout, config.DefaultMaxInFlight)
	}
}

func TestLoadFileEmpty(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"", "# nothing yet\n", "sources: []\ndestinations: []\n"} {
		c := config.Default()
		if err := c.LoadFile(writeFile(t, content)); err != nil {
			t.Errorf("LoadFile(%q): %v", content, err)
		}
		if len(c.Sources) != 0 || len(c.Destinations) != 0 {
			t.Errorf("LoadFile(%q) gave %v and %v, want nothing", content, c.Sources, c.Destinations)
		}
	}
}

func TestLoadFileMissing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "absent.yaml")
	c := config.Default()
	err := c.LoadFile(path)
	if err == nil {
		t.Fatal("LoadFile of a missing file = nil, want an error")
	}
	fes := fileErrors(t, err)
	if len(fes) != 1 || fes[0].Path != path {
		t.Errorf("LoadFile = %v, want one *FileError for %s", err, path)
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	const src = "sources:\n  - name: gh\n"
	tests := []struct {
		name    string
		content string
		line    int
		field   string // must appear in the error's field or message
	}{
		{
			name:    "YAML syntax error",
			content: "sources:\n  - name: gh\n    verify: {type: github\n",
			line:    3, field: "}",
		},
		{
			name:    "tab indentation",
			content: "sources:\n\t- name: gh\n",
			line:    2, field: "'\t'",
		},
		{
			name:    "unknown field",
			content: src + "destinations:\n  - name: ci\n    ur: https://ci.example.com\n    sources: [gh]\n",
			line:    5, field: `"ur"`,
		},
		{
			name:    "unknown top-level field",
			content: src + "destination:\n  - name: ci\n",
			line:    3, field: `"destination"`,
		},
		{
			name:    "wrong shape",
			content: "- gh\n",
			line:    1, field: "mapping",
		},
		{
			name:    "missing source name",
			content: src + "  - max_body_bytes: 10\n",
			line:    3, field: "sources[1].name",
		},
		{
			name:    "bad source name characters",
			content: "sources:\n  - name: gh\n  - name: \"my source!\"\n",
			line:    3, field: "sources[1].name",
		},
		{
			name:    "source name too long",
			content: "sources:\n  - name: " + strings.Repeat("a", 65) + "\n",
			line:    2, field: "sources[0].name",
		},
		{
			name:    "duplicate source names",
			content: src + "  - name: other\n  - name: gh\n",
			line:    4, field: "sources[2].name",
		},
		{
			name:    "negative max_body_bytes",
			content: src + "    max_body_bytes: -1\n",
			line:    3, field: "sources[0].max_body_bytes",
		},
		{
			name:    "verify type github without secret",
			content: src + "    verify:\n      type: github\n",
			line:    4, field: "sources[0].verify.secret",
		},
		{
			name:    "unknown verify type",
			content: src + "    verify:\n      type: gitlab\n      secret: x\n",
			line:    4, field: "sources[0].verify.type",
		},
		{
			name:    "missing destination name",
			content: src + "destinations:\n  - url: https://ci.example.com\n    sources: [gh]\n",
			line:    4, field: "destinations[0].name",
		},
		{
			name:    "bad destination name characters",
			content: src + "destinations:\n  - name: ci/cd\n    url: https://ci.example.com\n    sources: [gh]\n",
			line:    4, field: "destinations[0].name",
		},
		{
			name: "duplicate destination names",
			content: src + "destinations:\n" +
				"  - name: ci\n    url: https://a.example.com\n    sources: [gh]\n" +
				"  - name: ci\n    url: https://b.example.com\n    sources: [gh]\n",
			line: 7, field: "destinations[1].name",
		},
		{
			name:    "missing url",
			content: src + "destinations:\n  - name: ci\n    sources: [gh]\n",
			line:    4, field: "destinations[0].url",
		},
		{
			name:    "non-http url",
			content: src + "destinations:\n  - name: ci\n    url: ftp://ci.example.com/hooks\n    sources: [gh]\n",
			line:    5, field: "destinations[0].url",
		},
		{
			name:    "relative url",
			content: src + "destinations:\n  - name: ci\n    url: /hooks\n    sources: [gh]\n",
			line:    5, field: "destinations[0].url",
		},
		{
			name:    "no sources",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n",
			line:    4, field: "destinations[0].sources",
		},
		{
			name:    "hmac without header",
			content: src + "    verify:\n      type: hmac\n      secret: x\n",
			line:    4, field: "sources[0].verify.header",
		},
		{
			name:    "bad CIDR",
			content: src + "    verify:\n      allow_ips: [10.0.0.0/8, 300.1.2.3]\n",
			line:    4, field: "sources[0].verify.allow_ips[1]",
		},
		{
			name:    "tolerance not a duration",
			content: src + "    verify:\n      type: stripe\n      secret: x\n      tolerance: soon\n",
			line:    6, field: "sources[0].verify.tolerance",
		},
		{
			name:    "field of another scheme",
			content: src + "    verify:\n      type: github\n      secret: x\n      username: bob\n",
			line:    6, field: "sources[0].verify.username",
		},
		{
			name:    "negative rate limit",
			content: src + "    rate_limit: -5\n",
			line:    3, field: "sources[0].rate_limit",
		},
		{
			name:    "previous secret without end",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    previous_secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
			line:    4, field: "destinations[0].previous_secret_until",
		},
		{
			name:    "previous secret end not a time",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    previous_secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n    previous_secret_until: tomorrow\n",
			line:    8, field: "destinations[0].previous_secret_until",
		},
		{
			name:    "client cert without key",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    client_cert: x\n",
			line:    4, field: "destinations[0].client_key",
		},
		{
			name:    "empty sources",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: []\n",
			line:    6, field: "destinations[0].sources",
		},
		{
			name:    "undeclared source",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources:\n      - gh\n      - stripe\n",
			line:    8, field: "destinations[0].sources[1]",
		},
		{
			name:    "bad secret",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    secret: whsec_short\n",
			line:    7, field: "destinations[0].secret",
		},
		{
			name:    "secret without prefix",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    secret: MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
			line:    7, field: "destinations[0].secret",
		},
		{
			name:    "bad timeout",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    timeout: soon\n",
			line:    7, field: "destinations[0].timeout",
		},
		{
			name:    "timeout without unit",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    timeout: \"30\"\n",
			line:    7, field: "destinations[0].timeout",
		},
		{
			name:    "zero timeout",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    timeout: 0s\n",
			line:    7, field: "destinations[0].timeout",
		},
		{
			name:    "timeout too long",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    timeout: 11m\n",
			line:    7, field: "destinations[0].timeout",
		},
		{
			name:    "negative max_in_flight",
			content: src + "destinations:\n  - name: ci\n    url: https://ci.example.com\n    sources: [gh]\n    max_in_flight: -2\n",
			line:    7, field: "destinations[0].max_in_flight",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tt.content)
			c := config.Default()
			err := c.LoadFile(path)
			if err == nil {
				t.Fatalf("LoadFile = nil, want an error at line %d about %s\n%s", tt.line, tt.field, tt.content)
			}
			fes := fileErrors(t, err)
			var found bool
			for _, fe := range fes {
				if fe.Path != path {
					t.Errorf("FileError.Path = %q, want %q", fe.Path, path)
				}
				if !strings.HasPrefix(fe.Error(), path) {
					t.Errorf("error %q does not start with the file path", fe)
				}
				if fe.Line == tt.line && strings.Contains(fe.Field+" "+fe.Msg, tt.field) {
					found = true
				}
			}
			if !found {
				t.Errorf("LoadFile = %v\nwant an error at line %d naming %s", err, tt.line, tt.field)
			}
			if len(fes) != 1 {
				t.Errorf("LoadFile gave %d errors, want exactly the one problem in the file: %v", len(fes), err)
			}
		})
	}
}

// TestLoadFileParserPanic: inputs on which the YAML library panics (found by
// FuzzLoadFile) must give a *FileError, not crash.
func TestLoadFileParserPanic(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"sources: ! ", "sources: !\n", "destinations: !\n"} {
		path := writeFile(t, content)
		c := config.Default()
		err := c.LoadFile(path)
		if err == nil {
			t.Errorf("LoadFile(%q) = nil, want an error", content)
			continue
		}
		if fes := fileErrors(t, err); len(fes) != 1 || fes[0].Path != path {
			t.Errorf("LoadFile(%q) = %v, want one *FileError naming %s", content, err, path)
		}
	}
}

func TestLoadFileReportsEveryProblem(t *testing.T) {
	t.Parallel()
	content := "sources:\n" +
		"  - name: gh\n" +
		"    verify: { type: github }\n" + // line 3
		"destinations:\n" +
		"  - name: ci\n" +
		"    url: ftp://x\n" + // line 6
		"    sources: [nope]\n" + // line 7
		"    timeout: forever\n" // line 8
	path := writeFile(t, content)
	c := config.Default()
	fes := fileErrors(t, c.LoadFile(path))
	got := map[string]int{}
	for _, fe := range fes {
		got[fe.Field] = fe.Line
	}
	want := map[string]int{
		"sources[0].verify.secret":   3,
		"destinations[0].url":        6,
		"destinations[0].sources[0]": 7,
		"destinations[0].timeout":    8,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors by field and line = %v, want %v", got, want)
	}
}

func TestLoadFileErrorDoesNotLeakSecret(t *testing.T) {
	t.Parallel()
	const secret = "whsec_c2hvcnQtYnV0LXNlY3JldC1rZXk=" // 20 bytes: too short
	path := writeFile(t, "sources:\n  - name: gh\ndestinations:\n  - name: ci\n    url: https://x.example.com\n    sources: [gh]\n    secret: "+secret+"\n")
	c := config.Default()
	err := c.LoadFile(path)
	if err == nil {
		t.Fatal("LoadFile = nil, want a bad secret error")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q shows the secret", err)
	}
}

func FuzzLoadFile(f *testing.F) {
	f.Add(goodFile)
	f.Add("")
	f.Add("sources:\n  - name: gh\n    verify: {type: github\n")
	f.Add("sources:\n  - name: gh\ndestinations:\n  - name: ci\n    ur: https://x\n")
	f.Add("sources:\n  - name: gh\n  - name: gh\n")
	f.Add("destinations:\n  - name: ci\n    url: https://x\n    sources: [\"*\"]\n    timeout: 1ns\n")
	f.Add("- a\n- b\n")
	f.Add("sources: &a\n  - *a\n")
	f.Add("sources:\n  - name: !!binary aGVsbG8=\n")
	f.Add("{sources: [{name: a, verify: {type: github, secret: s}}], destinations: [{name: b, url: 'http://h', sources: [a], max_in_flight: 99999999999999999999}]}")
	f.Add("sources:\n\t- name: gh\n")
	f.Add("%YAML 1.2\n---\nsources: []\n...\n---\n")
	f.Add("sources: ! ") // made goccy/go-yaml v1.19.2 panic
	dir := f.TempDir()   // one directory for all inputs: t.TempDir per input is slow
	f.Fuzz(func(t *testing.T, content string) {
		file, err := os.CreateTemp(dir, "hookd-*.yaml")
		if err != nil {
			t.Fatalf("create temp file: %v", err)
		}
		path := file.Name()
		t.Cleanup(func() { _ = os.Remove(path) })
		_, werr := file.WriteString(content)
		if cerr := file.Close(); werr != nil || cerr != nil {
			t.Fatalf("write %s: %v", path, errors.Join(werr, cerr))
		}
		c := config.Default()
		err = c.LoadFile(path)
		if err == nil {
			for _, d := range c.Destinations {
				if d.Timeout <= 0 || d.MaxInFlight <= 0 {
					t.Fatalf("accepted destination %+v with non-positive timeout or max_in_flight", d)
				}
			}
			for _, s := range c.Sources {
				if s.MaxBodyBytes <= 0 {
					t.Fatalf("accepted source %+v with non-positive max_body_bytes", s)
				}
			}
			return
		}
		for _, fe := range fileErrors(t, err) {
			if fe.Path != path {
				t.Fatalf("FileError.Path = %q, want %q", fe.Path, path)
			}
		}
	})
}

// TestLoadFileSecurityFields: every verification scheme's fields, rate
// limits, rotation and redirects load into the domain types as written (a
// scheme's defaults apply when it verifies).
func TestLoadFileSecurityFields(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `sources:
  - name: custom
    rate_limit: 50
    rate_burst: 100
    verify:
      type: hmac
      secret: s3cret
      header: X-Signature
      encoding: base64
      prefix: "sha512="
      algorithm: sha512
      allow_ips: [203.0.113.0/24, "2001:db8::1"]
  - name: stripe
    verify: {type: stripe, secret: whsec_x, tolerance: 2m}
  - name: tokened
    verify: {type: token, secret: t0ken}
destinations:
  - name: ci
    url: https://ci.example.com/hooks
    sources: [custom]
    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    previous_secret: whsec_Y2FiYWdlY2FiYWdlY2FiYWdlY2FiYWdlY2FiYWdl
    previous_secret_until: 2026-12-31T00:00:00Z
    rate_limit: 10
    follow_redirects: true
`)
	c := config.Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	wantSources := []webhook.Source{
		{Name: "custom", MaxBodyBytes: 1 << 20, RateLimit: 50, RateBurst: 100, Verify: webhook.Verify{
			Type: "hmac", Secret: "s3cret", Header: "X-Signature", Encoding: "base64", Prefix: "sha512=", Algorithm: "sha512",
			AllowIPs: []string{"203.0.113.0/24", "2001:db8::1"},
		}},
		{Name: "stripe", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: "stripe", Secret: "whsec_x", Tolerance: 2 * time.Minute}},
		{Name: "tokened", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: "token", Secret: "t0ken"}},
	}
	if !reflect.DeepEqual(c.Sources, wantSources) {
		t.Errorf("Sources\n got  %+v\n want %+v", c.Sources, wantSources)
	}
	d := c.Destinations[0]
	if d.PreviousSecret == "" || !d.PreviousSecretUntil.Equal(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) || d.RateLimit != 10 || !d.FollowRedirects {
		t.Errorf("destination = %+v", d)
	}
}
