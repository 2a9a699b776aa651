package bench

import (
	"bytes"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/webhook"
)

// TestWriteCatalogLoads checks that worker processes read back exactly the
// catalog the bench runs with.
func TestWriteCatalogLoads(t *testing.T) {
	t.Parallel()
	sources := []webhook.Source{
		{Name: "bench", MaxBodyBytes: config.DefaultMaxBodyBytes},
		{Name: "signed", MaxBodyBytes: 4096, Verify: webhook.Verify{Type: "github", Secret: "s3cret"}},
	}
	destinations := []webhook.Destination{
		{Name: "receiver-0", URL: "http://127.0.0.1:5000/hooks/0", Sources: []string{"bench"}, Timeout: 10 * time.Second, MaxInFlight: 64},
		{Name: "receiver-1", URL: "http://127.0.0.1:5000/hooks/1", Sources: []string{"bench", "signed"}, EventTypes: []string{"bench.*"},
			Headers: map[string]string{"X-Run": "1"}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Timeout: 1500 * time.Millisecond, MaxInFlight: 3},
	}
	path := filepath.Join(t.TempDir(), "bench.yaml")
	if err := writeCatalog(path, sources, destinations); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if err := cfg.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Sources, sources) {
		t.Errorf("sources read back:\n%+v\nwant\n%+v", cfg.Sources, sources)
	}
	if !reflect.DeepEqual(cfg.Destinations, destinations) {
		t.Errorf("destinations read back:\n%+v\nwant\n%+v", cfg.Destinations, destinations)
	}
}

func TestPrefixWriter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		writes []string
		want   string
	}{
		{"one line", []string{"a\n"}, "w: a\n"},
		{"line split across writes", []string{"ab", "c\nd", "e\n"}, "w: abc\nw: de\n"},
		{"several lines in one write", []string{"a\nb\n"}, "w: a\nw: b\n"},
		{"last line without newline", []string{"a\nb"}, "w: a\nw: b\n"},
		{"nothing", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			p := &prefixWriter{w: &out, mu: &sync.Mutex{}, prefix: "w: "}
			for _, s := range tc.writes {
				if n, err := p.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			p.flush()
			if got := out.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
