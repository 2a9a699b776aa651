package config

import (
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value   string
		want    time.Duration
		wantErr string
	}{
		{value: "", want: 0},
		{value: "0", want: 0},
		{value: "720h", want: 720 * time.Hour},
		{value: "1h", want: time.Hour},
		{value: "30m", wantErr: "HOOKD_RETENTION: 30m0s is below 1h"},
		{value: "720", wantErr: "HOOKD_RETENTION: 720ms is below 1h"},
		{value: "30d", wantErr: "HOOKD_RETENTION: \"30d\" is not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			c := Default()
			err := c.FromEnv(func(key string) (string, bool) {
				if key == "HOOKD_RETENTION" {
					return tt.value, true
				}
				return "", false
			})
			if err == nil {
				err = c.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("HOOKD_RETENTION=%q: error %v, want %q", tt.value, err, tt.wantErr)
				}
				return
			}
			if err != nil || c.Retention != tt.want {
				t.Fatalf("HOOKD_RETENTION=%q: %s, %v; want %s", tt.value, c.Retention, err, tt.want)
			}
		})
	}
}
