package webhook_test

import (
	"errors"
	"testing"

	"github.com/hookd/hookd/internal/webhook"
)

func TestDeriveEventStatus(t *testing.T) {
	t.Parallel()
	const (
		pending = webhook.StatusPending
		success = webhook.StatusSuccess
		failed  = webhook.StatusFailed
		dead    = webhook.StatusPermanentFailure
	)
	tests := []struct {
		name   string
		counts map[webhook.Status]int
		want   webhook.Status
	}{
		// No destination subscribed: nothing is left to do.
		{"nil map", nil, success},
		{"no deliveries", map[webhook.Status]int{}, success},
		{"zero counts only", map[webhook.Status]int{pending: 0, failed: 0}, success},

		// success when all succeeded.
		{"one success", map[webhook.Status]int{success: 1}, success},
		{"all success", map[webhook.Status]int{success: 7}, success},

		// permanent_failure when any is dead and none is still going.
		{"one dead", map[webhook.Status]int{dead: 1}, dead},
		{"dead and success", map[webhook.Status]int{dead: 1, success: 4}, dead},
		{"dead and zero counts of going ones", map[webhook.Status]int{dead: 2, pending: 0, failed: 0}, dead},

		// failed when any is retrying (dead ones do not win while one is going).
		{"one failed", map[webhook.Status]int{failed: 1}, failed},
		{"failed and success", map[webhook.Status]int{failed: 1, success: 3}, failed},
		{"failed and dead", map[webhook.Status]int{failed: 1, dead: 3}, failed},
		{"failed and pending", map[webhook.Status]int{failed: 1, pending: 3}, failed},
		{"failed, pending, dead, success", map[webhook.Status]int{failed: 1, pending: 1, dead: 1, success: 1}, failed},

		// else pending.
		{"one pending", map[webhook.Status]int{pending: 1}, pending},
		{"pending and success", map[webhook.Status]int{pending: 1, success: 9}, pending},
		{"pending and dead: one is still going", map[webhook.Status]int{pending: 1, dead: 1}, pending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := webhook.DeriveEventStatus(tt.counts); got != tt.want {
				t.Errorf("DeriveEventStatus(%v) = %q, want %q", tt.counts, got, tt.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		valid    bool
		terminal bool
	}{
		{"pending", true, false},
		{"success", true, true},
		{"failed", true, false},
		{"permanent_failure", true, true},
		{"", false, false},
		{"PENDING", false, false},
		{"Success", false, false},
		{" pending", false, false},
		{"permanent-failure", false, false},
		{"dead", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			s := webhook.Status(tt.in)
			if got := s.Valid(); got != tt.valid {
				t.Errorf("Status(%q).Valid() = %v, want %v", tt.in, got, tt.valid)
			}
			if got := s.Terminal(); got != tt.terminal {
				t.Errorf("Status(%q).Terminal() = %v, want %v", tt.in, got, tt.terminal)
			}
			got, err := webhook.ParseStatus(tt.in)
			if tt.valid {
				if err != nil {
					t.Fatalf("ParseStatus(%q) error = %v, want nil", tt.in, err)
				}
				if got != s {
					t.Errorf("ParseStatus(%q) = %q, want %q", tt.in, got, s)
				}
				return
			}
			if !errors.Is(err, webhook.ErrInvalid) {
				t.Fatalf("ParseStatus(%q) error = %v, want one wrapping ErrInvalid", tt.in, err)
			}
			if got != "" {
				t.Errorf("ParseStatus(%q) = %q on error, want empty", tt.in, got)
			}
		})
	}
}

func TestMatchEventType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, eventType string
		want               bool
	}{
		{"*", "issues.opened", true},
		{"*", "", true},
		{"issues.*", "issues.opened", true},
		{"issues.*", "issues.closed", true},
		{"issues.*", "issues.", true},
		{"issues.*", "issues", false},
		{"issues.*", "issue_comment.created", false},
		{"issues.*", "pull_request.opened", false},
		{"issues.*", "xissues.opened", false},
		{"issues*", "issues_comment", true},
		{"issues.opened", "issues.opened", true},
		{"issues.opened", "issues.opened.extra", false},
		{"issues.opened", "issues.closed", false},
		{"issues.opened", "Issues.Opened", false},
		{"issues.opened", "", false},
		{"", "", true},
		{"", "issues", false},
		{"push", "push", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"|"+tt.eventType, func(t *testing.T) {
			t.Parallel()
			if got := webhook.MatchEventType(tt.pattern, tt.eventType); got != tt.want {
				t.Errorf("MatchEventType(%q, %q) = %v, want %v", tt.pattern, tt.eventType, got, tt.want)
			}
		})
	}
}

func TestDestinationWants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		sources    []string
		eventTypes []string
		source     string
		eventType  string
		want       bool
	}{
		{"subscribed, no filter", []string{"github"}, nil, "github", "issues.opened", true},
		{"subscribed, no filter, empty type", []string{"github"}, nil, "github", "", true},
		{"not subscribed", []string{"github"}, nil, "stripe", "charge.succeeded", false},
		{"no sources", nil, nil, "github", "push", false},
		{"second of several sources", []string{"github", "stripe"}, nil, "stripe", "charge.succeeded", true},
		{"wildcard source", []string{"*"}, nil, "anything", "x", true},
		{"wildcard source with filter, match", []string{"*"}, []string{"issues.*"}, "gitlab", "issues.opened", true},
		{"wildcard source with filter, no match", []string{"*"}, []string{"issues.*"}, "gitlab", "push", false},
		{"source name is not a pattern", []string{"git*"}, nil, "github", "push", false},
		{"star filter", []string{"github"}, []string{"*"}, "github", "push", true},
		{"prefix filter match", []string{"github"}, []string{"issues.*"}, "github", "issues.opened", true},
		{"prefix filter miss", []string{"github"}, []string{"issues.*"}, "github", "push", false},
		{"exact filter match", []string{"github"}, []string{"push"}, "github", "push", true},
		{"exact filter miss", []string{"github"}, []string{"push"}, "github", "pushed", false},
		{"filter with empty event type", []string{"github"}, []string{"push"}, "github", "", false},
		{"second filter matches", []string{"github"}, []string{"push", "issues.*"}, "github", "issues.closed", true},
		{"filter does not rescue an unsubscribed source", []string{"github"}, []string{"*"}, "stripe", "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &webhook.Destination{Name: "d", Sources: tt.sources, EventTypes: tt.eventTypes}
			if got := d.Wants(tt.source, tt.eventType); got != tt.want {
				t.Errorf("Destination{Sources: %q, EventTypes: %q}.Wants(%q, %q) = %v, want %v",
					tt.sources, tt.eventTypes, tt.source, tt.eventType, got, tt.want)
			}
		})
	}
}
