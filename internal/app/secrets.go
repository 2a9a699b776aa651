package app

import (
	"context"
	"fmt"
	"io"

	"github.com/hookd/hookd/internal/signing"
	"github.com/hookd/hookd/internal/webhook"
)

// secretStore is where generated signing secrets are kept.
type secretStore interface {
	SettingPutIfAbsent(ctx context.Context, key, value string) (string, error)
}

// withSecrets gives every file destination without a configured secret a
// generated one that is stored, so it stays the same across restarts. A
// secret generated now is printed once to out, the only place it is ever
// shown.
func withSecrets(ctx context.Context, dests []webhook.Destination, secrets secretStore, out io.Writer) ([]webhook.Destination, error) {
	result := make([]webhook.Destination, 0, len(dests))
	for _, d := range dests {
		if d.Secret == "" {
			fresh := signing.NewSecret()
			stored, err := secrets.SettingPutIfAbsent(ctx, "destination_secret:"+d.Name, fresh)
			if err != nil {
				return nil, fmt.Errorf("destination %s: store generated secret: %w", d.Name, err)
			}
			if stored == fresh && out != nil {
				fmt.Fprintf(out, "hookd: generated signing secret for destination %q (shown once; set `secret:` in the config file to choose your own):\n  %s\n", d.Name, stored)
			}
			d.Secret = stored
		}
		result = append(result, d)
	}
	return result, nil
}
