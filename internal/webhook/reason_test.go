package webhook_test

import (
	"errors"
	"testing"

	"github.com/hookd/hookd/internal/webhook"
)

func TestParseFailureReason(t *testing.T) {
	t.Parallel()
	for _, r := range webhook.FailureReasons {
		got, err := webhook.ParseFailureReason(string(r))
		if err != nil || got != r {
			t.Errorf("ParseFailureReason(%q) = %q, %v", r, got, err)
		}
	}
	for _, bad := range []string{"", "DNS", "http_2xx", "timeout "} {
		if _, err := webhook.ParseFailureReason(bad); !errors.Is(err, webhook.ErrInvalid) {
			t.Errorf("ParseFailureReason(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
