package webhook_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

func TestParseRetrySchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		want      []time.Duration
		wantField string // of the *FieldError, "" when valid
	}{
		{"", nil, ""},
		{"exponential", nil, ""},
		{" Exponential ", nil, ""},
		{"5s", []time.Duration{5 * time.Second}, ""},
		{"5s,5m,30m,2h,5h,10h", []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour}, ""},
		{" 1s , 1m30s ", []time.Duration{time.Second, 90 * time.Second}, ""},
		{"1ms", []time.Duration{time.Millisecond}, ""},
		{"168h", []time.Duration{webhook.MaxRetryScheduleDelay}, ""},
		{"5s,5m,5x", nil, "schedule[2]"},
		{"5", nil, "schedule[0]"},
		{"5s,,5m", nil, "schedule[1]"},
		{"5s,", nil, "schedule[1]"},
		{"-5s", nil, "schedule[0]"},
		{"0s", nil, "schedule[0]"},
		{"999us", nil, "schedule[0]"},
		{"169h", nil, "schedule[0]"},
		{"linear", nil, "schedule[0]"},
		{"1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s", nil, "schedule"},
	}
	for _, tt := range tests {
		got, err := webhook.ParseRetrySchedule(tt.in)
		var fe *webhook.FieldError
		switch {
		case tt.wantField == "" && err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.wantField != "" && (!errors.As(err, &fe) || fe.Field != tt.wantField):
			t.Errorf("%q: error %v, want a FieldError on %s", tt.in, err, tt.wantField)
		case tt.wantField != "" && !errors.Is(err, webhook.ErrInvalid):
			t.Errorf("%q: %v does not wrap ErrInvalid", tt.in, err)
		case len(got) != len(tt.want):
			t.Errorf("%q = %v, want %v", tt.in, got, tt.want)
		default:
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("%q = %v, want %v", tt.in, got, tt.want)
					break
				}
			}
		}
	}
}

func TestFormatRetrySchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []time.Duration
		want string
	}{
		{nil, "exponential"},
		{[]time.Duration{5 * time.Second, 5 * time.Minute, 2 * time.Hour, 90 * time.Minute, 1500 * time.Millisecond}, "5s,5m,2h,1h30m,1.5s"},
		{[]time.Duration{time.Hour + time.Second}, "1h0m1s"},
	}
	for _, tt := range tests {
		if got := webhook.FormatRetrySchedule(tt.in); got != tt.want {
			t.Errorf("FormatRetrySchedule(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzParseRetrySchedule: any input either fails with a FieldError or
// gives delays within bounds that format and parse back to themselves.
func FuzzParseRetrySchedule(f *testing.F) {
	for _, s := range []string{"", "exponential", "5s,5m,30m,2h,5h,10h", "5s,5x", "1ms", ",", "1h0m1s", "9999999999h", "5s , 1m", "-1s", "1e3s", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := webhook.ParseRetrySchedule(s)
		if err != nil {
			var fe *webhook.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%q: error %v is not a FieldError", s, err)
			}
			return
		}
		if len(got) > webhook.MaxRetryScheduleEntries {
			t.Fatalf("%q: %d delays", s, len(got))
		}
		for _, d := range got {
			if d < time.Millisecond || d > webhook.MaxRetryScheduleDelay {
				t.Fatalf("%q: delay %v out of bounds", s, d)
			}
		}
		again, err := webhook.ParseRetrySchedule(webhook.FormatRetrySchedule(got))
		if err != nil || len(again) != len(got) {
			t.Fatalf("%q: formatted %q parses to %v, %v", s, webhook.FormatRetrySchedule(got), again, err)
		}
		for i := range got {
			if again[i] != got[i] {
				t.Fatalf("%q: round trip %v != %v", s, again, got)
			}
		}
	})
}
