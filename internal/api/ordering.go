package api

import (
	"context"

	"github.com/hookd/hookd/internal/ordering"
	"github.com/hookd/hookd/internal/webhook"
)

// OrderingView is a destination's ordered delivery (docs/ordering.md), in
// answers and requests. In a request, {} or {"enabled": true} makes the
// whole destination one sequence, {"key": "<jq program>"} one sequence
// per key, and {"enabled": false} (PATCH) turns ordering off.
type OrderingView struct {
	Enabled *bool  `json:"enabled,omitempty"`
	Key     string `json:"key,omitempty"`
}

// orderingView shows o; nil when the destination is not ordered.
func orderingView(o *webhook.Ordering) *OrderingView {
	if o == nil {
		return nil
	}
	on := true
	return &OrderingView{Enabled: &on, Key: o.Key}
}

// orderingSetting reads a request's ordering; nil turns it off.
func orderingSetting(v *OrderingView) *webhook.Ordering {
	if v == nil || (v.Enabled != nil && !*v.Enabled) {
		return nil
	}
	return &webhook.Ordering{Key: v.Key}
}

// replayKeys compiles the key programs replays run, once per program.
var replayKeys = ordering.NewKeyer()

// orderReplay makes a replay's new delivery to an ordered destination
// ordered too: it joins the back of its key's sequence (the store gives it
// a position after every delivery so far), its key computed by the
// destination's key program as it is now. A key that cannot be computed
// sends it to the fallback sequence, as at ingest.
func (s *Server) orderReplay(ctx context.Context, d *webhook.Delivery, dest *webhook.Destination, ev webhook.Event) {
	if dest.Ordering == nil {
		return
	}
	key, err := replayKeys.Key(ctx, dest, ordering.Input(ev))
	if err != nil {
		s.log.Warn("ordering key not computed; the replay joins the fallback sequence", "event", ev.ID, "destination", dest.Name, "err", err)
	}
	d.Ordered, d.OrderingKey = true, key
}
