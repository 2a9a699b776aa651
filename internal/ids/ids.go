// Package ids makes hookd's identifiers: a short type prefix and a ULID, so
// ids sort by creation time (newest-first listings need no extra index) and
// say what they name ("evt_…", "dlv_…", "att_…").
package ids

import "github.com/oklog/ulid/v2"

// Prefixes of the kinds of ids.
const (
	Event    = "evt_"
	Delivery = "dlv_"
	Attempt  = "att_"
)

// New returns prefix followed by a fresh ULID. Ids made in one process are
// strictly increasing.
func New(prefix string) string {
	return prefix + ulid.Make().String()
}
