package config_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/config"
)

// TestFilePrograms checks that a destination's filter and transform are
// read from the file, and that one that does not compile is refused at
// load, naming the file's line and the program's own line and column.
func TestFilePrograms(t *testing.T) {
	t.Parallel()
	good := writeFile(t, `sources:
  - name: stripe
destinations:
  - name: big
    url: https://big.example.com/hooks
    sources: [stripe]
    filter: .payload.data.amount > 1000
    transform: |
      .payload |= {amount: .data.amount}
`)
	var c config.Config
	if err := c.LoadFile(good); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if d := c.Destinations[0]; d.Filter != ".payload.data.amount > 1000" || d.Transform != ".payload |= {amount: .data.amount}\n" {
		t.Errorf("filter %q, transform %q", d.Filter, d.Transform)
	}

	bad := writeFile(t, `sources:
  - name: stripe
destinations:
  - name: big
    url: https://big.example.com/hooks
    sources: [stripe]
    filter: |
      .payload.data.amount >
        )
`)
	err := c.LoadFile(bad)
	fes := fileErrors(t, err)
	if len(fes) != 1 || fes[0].Field != "destinations[0].filter" || fes[0].Line != 7 || !strings.Contains(fes[0].Msg, "line 2, column 3") {
		t.Fatalf("LoadFile = %v; want one error on destinations[0].filter at line 7 naming line 2, column 3 of the program", err)
	}
}
