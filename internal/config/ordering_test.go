package config_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/webhook"
)

// TestFileOrdering reads a destination's ordering block in its forms, and
// refuses a key program that does not compile at the line of the key,
// naming the program's own line and column.
func TestFileOrdering(t *testing.T) {
	t.Parallel()
	const head = `sources:
  - name: shop
destinations:
  - name: orders
    url: https://orders.example.com/hooks
    sources: [shop]
`
	for _, tc := range []struct {
		name, block string
		want        *webhook.Ordering
	}{
		{"absent", "", nil},
		{"whole destination", "    ordering: {enabled: true}\n", &webhook.Ordering{}},
		{"per key", "    ordering: {key: .payload.order_id}\n", &webhook.Ordering{Key: ".payload.order_id"}},
		{"disabled", "    ordering: {enabled: false}\n", nil},
		{"blank key", "    ordering: {key: \"  \"}\n", &webhook.Ordering{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c config.Config
			if err := c.LoadFile(writeFile(t, head+tc.block)); err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			got := c.Destinations[0].Ordering
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("ordering = %+v; want %+v", got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name, block, field, msg string
		line                    int
	}{
		{"syntax", "    ordering:\n      key: |\n        .payload.\n          ]\n", "destinations[0].ordering.key", "line 2, column 3", 8},
		{"key without enabled", "    ordering: {enabled: false, key: .id}\n", "destinations[0].ordering.key", "needs ordering enabled", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c config.Config
			err := c.LoadFile(writeFile(t, head+tc.block))
			fes := fileErrors(t, err)
			if len(fes) != 1 || fes[0].Field != tc.field || fes[0].Line != tc.line || !strings.Contains(fes[0].Msg, tc.msg) {
				t.Fatalf("LoadFile = %v; want one error on %s at line %d containing %q", err, tc.field, tc.line, tc.msg)
			}
		})
	}
}
