package catalog

import (
	"strings"

	"github.com/hookd/hookd/internal/ordering"
	"github.com/hookd/hookd/internal/webhook"
)

// validateOrdering compiles an ordered destination's key program, so that
// one that does not compile is refused when it is declared, naming its
// line and column (field "ordering.key"), rather than sending every event
// to the fallback sequence. A key of blanks is no key: the whole
// destination is one sequence.
func validateOrdering(d *webhook.Destination, p *problems) {
	if d.Ordering == nil {
		return
	}
	o := *d.Ordering // the caller's value is not changed behind its back
	if strings.TrimSpace(o.Key) == "" {
		o.Key = ""
	} else if _, err := ordering.Compile(o.Key); err != nil {
		p.add("ordering.key", "%v", err)
	}
	d.Ordering = &o
}
