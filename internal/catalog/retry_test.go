package catalog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/webhook"
)

func TestValidateRetry(t *testing.T) {
	t.Parallel()
	exists := func(string) bool { return true }
	tests := []struct {
		name     string
		retry    webhook.RetrySettings
		want     webhook.RetrySettings // after normalizing, when valid
		field    string                // of the FieldError, "" when valid
		errorMsg string                // the whole message, when set
	}{
		{"zero: the global policy", webhook.RetrySettings{}, webhook.RetrySettings{}, "", ""},
		{"exponential is the default's name", webhook.RetrySettings{Schedule: "Exponential"}, webhook.RetrySettings{}, "", ""},
		{"a list is written canonically", webhook.RetrySettings{Schedule: " 5s, 300s ,30m,2h0m0s"}, webhook.RetrySettings{Schedule: "5s,5m,30m,2h"}, "", ""},
		{"every field", webhook.RetrySettings{MaxAttempts: 8, MaxAge: 24 * time.Hour, Schedule: "5s,5m,30m,2h,5h,10h"},
			webhook.RetrySettings{MaxAttempts: 8, MaxAge: 24 * time.Hour, Schedule: "5s,5m,30m,2h,5h,10h"}, "", ""},
		{"a bad delay is named by index", webhook.RetrySettings{Schedule: "5s,5m,5x"}, webhook.RetrySettings{}, "retry.schedule[2]",
			`invalid input: retry.schedule[2]: "5x" is not a duration such as 5s, 30m or 2h`},
		{"an empty delay", webhook.RetrySettings{Schedule: "5s,,5m"}, webhook.RetrySettings{}, "retry.schedule[1]", ""},
		{"a delay too long", webhook.RetrySettings{Schedule: "200h"}, webhook.RetrySettings{}, "retry.schedule[0]", ""},
		{"negative attempts", webhook.RetrySettings{MaxAttempts: -1}, webhook.RetrySettings{}, "retry.max_attempts", ""},
		{"too many attempts", webhook.RetrySettings{MaxAttempts: 101}, webhook.RetrySettings{}, "retry.max_attempts", ""},
		{"negative age", webhook.RetrySettings{MaxAge: -time.Second}, webhook.RetrySettings{}, "retry.max_age", ""},
		{"age too long", webhook.RetrySettings{MaxAge: 91 * 24 * time.Hour}, webhook.RetrySettings{}, "retry.max_age", ""},
	}
	for _, tt := range tests {
		d := webhook.Destination{Name: "x", URL: "https://x.example.com", Sources: []string{"github"}, Retry: tt.retry}
		got, err := catalog.ValidateDestination(d, exists)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			} else if got.Retry != tt.want {
				t.Errorf("%s: retry = %+v, want %+v", tt.name, got.Retry, tt.want)
			}
			continue
		}
		fes := catalog.FieldErrors(err)
		if len(fes) != 1 || fes[0].Field != tt.field || !errors.Is(err, webhook.ErrInvalid) {
			t.Errorf("%s: err = %v, want one FieldError on %s", tt.name, err, tt.field)
			continue
		}
		if tt.errorMsg != "" && fes[0].Error() != tt.errorMsg {
			t.Errorf("%s: %q, want %q", tt.name, fes[0].Error(), tt.errorMsg)
		}
	}
}

// TestRetryPersists: an API-managed destination's retry policy is stored
// with it and read back after a reload (the document is JSON in every
// store; no schema holds its fields).
func TestRetryPersists(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	want := webhook.RetrySettings{MaxAttempts: 8, MaxAge: 24 * time.Hour, Schedule: "5s,5m,30m,2h,5h,10h"}
	d := webhook.Destination{Name: "x", URL: "https://x.example.com", Sources: []string{"github"}, Retry: want}
	if _, err := f.cat.PutDestination(ctx, d, true); err != nil {
		t.Fatal(err)
	}
	again, err := catalog.New(ctx, f.store, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := again.Destination("x")
	if !ok || got.Retry != want {
		t.Fatalf("after reload: %+v (found %v), want retry %+v", got.Retry, ok, want)
	}
}
