package config_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/webhook"
)

// TestFileRetry: a destination's retry policy is read from the file, and a
// bad one is refused at load, naming the field and the line.
func TestFileRetry(t *testing.T) {
	t.Parallel()
	good := writeFile(t, `sources:
  - name: stripe
destinations:
  - name: listed
    url: https://a.example.com/hooks
    sources: [stripe]
    retry: {max_attempts: 8, max_age: 24h, schedule: "5s,5m,30m,2h,5h,10h"}
  - name: exponential
    url: https://b.example.com/hooks
    sources: [stripe]
    retry:
      schedule: exponential
      max_attempts: 3
  - name: default
    url: https://c.example.com/hooks
    sources: [stripe]
`)
	var c config.Config
	if err := c.LoadFile(good); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	want := []webhook.RetrySettings{
		{MaxAttempts: 8, MaxAge: 24 * time.Hour, Schedule: "5s,5m,30m,2h,5h,10h"},
		{MaxAttempts: 3},
		{},
	}
	for i, w := range want {
		if got := c.Destinations[i].Retry; got != w {
			t.Errorf("%s: retry %+v, want %+v", c.Destinations[i].Name, got, w)
		}
	}

	tests := []struct {
		retry string
		field string
		line  int
	}{
		{`{schedule: "5s,5m,5x"}`, "destinations[0].retry.schedule[2]", 7},
		{`{max_age: 1 day}`, "destinations[0].retry.max_age", 7},
		{`{max_attempts: 1000}`, "destinations[0].retry.max_attempts", 7},
		{`{tries: 3}`, "", 7},
	}
	for _, tt := range tests {
		bad := writeFile(t, `sources:
  - name: stripe
destinations:
  - name: listed
    url: https://a.example.com/hooks
    sources: [stripe]
    retry: `+tt.retry+`
`)
		err := c.LoadFile(bad)
		if err == nil {
			t.Errorf("retry %s: loaded; want an error", tt.retry)
			continue
		}
		fes := fileErrors(t, err)
		if len(fes) != 1 || (tt.field != "" && fes[0].Field != tt.field) || fes[0].Line != tt.line {
			t.Errorf("retry %s: %v; want one error at line %d on %q", tt.retry, fes, tt.line, tt.field)
		}
	}
}
