package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
)

// trafficVariables are the inbound limits and server timeouts.
var trafficVariables = []string{
	"HOOKD_MAX_CONCURRENT_INGESTS", "HOOKD_MAX_BODY_BYTES",
	"HOOKD_READ_HEADER_TIMEOUT", "HOOKD_READ_TIMEOUT", "HOOKD_WRITE_TIMEOUT",
}

func TestTrafficDefaults(t *testing.T) {
	t.Parallel()
	c := config.Default()
	if c.MaxConcurrentIngests != 1024 || c.MaxBodyBytes != 64<<20 || c.ReadHeaderTimeout != 10*time.Second ||
		c.ReadTimeout != time.Minute || c.WriteTimeout != 90*time.Second {
		t.Errorf("defaults: concurrent %d, body %d, header %s, read %s, write %s; want 1024, 64 MiB, 10s, 1m, 90s",
			c.MaxConcurrentIngests, c.MaxBodyBytes, c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout)
	}
}

// TestTrafficVariablesRefused sets one variable to a value that makes no
// sense; FromEnv or Validate must refuse it with an error naming the
// variable (and, for the ones FromEnv cannot parse, the value).
func TestTrafficVariablesRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env      map[string]string
		variable string
	}{
		{map[string]string{"HOOKD_MAX_CONCURRENT_INGESTS": "many"}, "HOOKD_MAX_CONCURRENT_INGESTS"},
		{map[string]string{"HOOKD_MAX_CONCURRENT_INGESTS": "0"}, "HOOKD_MAX_CONCURRENT_INGESTS"},
		{map[string]string{"HOOKD_MAX_CONCURRENT_INGESTS": "-5"}, "HOOKD_MAX_CONCURRENT_INGESTS"},
		{map[string]string{"HOOKD_MAX_CONCURRENT_INGESTS": "1000001"}, "HOOKD_MAX_CONCURRENT_INGESTS"},
		{map[string]string{"HOOKD_MAX_BODY_BYTES": "64MiB"}, "HOOKD_MAX_BODY_BYTES"},
		{map[string]string{"HOOKD_MAX_BODY_BYTES": "1.5"}, "HOOKD_MAX_BODY_BYTES"},
		{map[string]string{"HOOKD_MAX_BODY_BYTES": "0"}, "HOOKD_MAX_BODY_BYTES"},
		{map[string]string{"HOOKD_MAX_BODY_BYTES": "-1"}, "HOOKD_MAX_BODY_BYTES"},
		{map[string]string{"HOOKD_MAX_BODY_BYTES": "1073741825"}, "HOOKD_MAX_BODY_BYTES"},
		{map[string]string{"HOOKD_MAX_BODY_BYTES": "99999999999999999999"}, "HOOKD_MAX_BODY_BYTES"},
		{map[string]string{"HOOKD_READ_HEADER_TIMEOUT": "soon"}, "HOOKD_READ_HEADER_TIMEOUT"},
		{map[string]string{"HOOKD_READ_HEADER_TIMEOUT": "0"}, "HOOKD_READ_HEADER_TIMEOUT"},
		{map[string]string{"HOOKD_READ_HEADER_TIMEOUT": "-1s"}, "HOOKD_READ_HEADER_TIMEOUT"},
		{map[string]string{"HOOKD_READ_HEADER_TIMEOUT": "11m", "HOOKD_READ_TIMEOUT": "20m", "HOOKD_WRITE_TIMEOUT": "20m"}, "HOOKD_READ_HEADER_TIMEOUT"},
		{map[string]string{"HOOKD_READ_TIMEOUT": "0"}, "HOOKD_READ_TIMEOUT"},
		{map[string]string{"HOOKD_READ_TIMEOUT": "-60000"}, "HOOKD_READ_TIMEOUT"},
		{map[string]string{"HOOKD_READ_TIMEOUT": "5s"}, "HOOKD_READ_TIMEOUT"}, // below the header timeout (10s)
		{map[string]string{"HOOKD_READ_TIMEOUT": "2h", "HOOKD_WRITE_TIMEOUT": "2h"}, "HOOKD_READ_TIMEOUT"},
		{map[string]string{"HOOKD_WRITE_TIMEOUT": "30s"}, "HOOKD_WRITE_TIMEOUT"}, // below the read timeout (60s)
		{map[string]string{"HOOKD_WRITE_TIMEOUT": "3h"}, "HOOKD_WRITE_TIMEOUT"},
		{map[string]string{"HOOKD_WRITE_TIMEOUT": "9223372036855"}, "HOOKD_WRITE_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.variable+"="+tt.env[tt.variable], func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			err := c.FromEnv(mapEnv(tt.env))
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("%v accepted, want an error naming %s", tt.env, tt.variable)
			}
			if !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("error %q does not name %s", err, tt.variable)
			}
		})
	}
}

func TestTrafficVariablesAccepted(t *testing.T) {
	t.Parallel()
	c := config.Default()
	env := map[string]string{
		"HOOKD_MAX_CONCURRENT_INGESTS": "1", "HOOKD_MAX_BODY_BYTES": "1073741824",
		"HOOKD_READ_HEADER_TIMEOUT": "250", "HOOKD_READ_TIMEOUT": "250ms", "HOOKD_WRITE_TIMEOUT": "250ms",
	}
	if err := c.FromEnv(mapEnv(env)); err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.ReadHeaderTimeout != 250*time.Millisecond || c.MaxBodyBytes != 1<<30 || c.MaxConcurrentIngests != 1 {
		t.Errorf("got header %s, body %d, concurrent %d", c.ReadHeaderTimeout, c.MaxBodyBytes, c.MaxConcurrentIngests)
	}
}

func TestWriteTimeoutFollowsReadTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want time.Duration
	}{
		{map[string]string{"HOOKD_READ_TIMEOUT": "5m"}, 5*time.Minute + 30*time.Second},
		{map[string]string{"HOOKD_READ_TIMEOUT": "30s"}, 90 * time.Second},
		{map[string]string{"HOOKD_READ_TIMEOUT": "5m", "HOOKD_WRITE_TIMEOUT": "10m"}, 10 * time.Minute},
	}
	for _, tt := range tests {
		c := config.Default()
		if err := c.FromEnv(mapEnv(tt.env)); err != nil {
			t.Fatalf("FromEnv(%v): %v", tt.env, err)
		}
		if c.WriteTimeout != tt.want {
			t.Errorf("FromEnv(%v): write timeout %s, want %s", tt.env, c.WriteTimeout, tt.want)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Validate after %v: %v", tt.env, err)
		}
	}
}

// FuzzTrafficVariables feeds any text to each traffic variable: FromEnv
// and Validate never panic, and a value they accept is one the server can
// use (positive caps, timeouts in order).
func FuzzTrafficVariables(f *testing.F) {
	for _, seed := range []string{"", "0", "-1", "1", "1024", "64MiB", "1e3", "10s", "-10s", "1h", "NaN", "+Inf",
		"9223372036854775807", "-9223372036854775808", "9223372036855", " 5 ", "0x10", "1_000", "\x00", "5m30s"} {
		for i := range trafficVariables {
			f.Add(i, seed)
		}
	}
	f.Fuzz(func(t *testing.T, which int, value string) {
		if which < 0 {
			which = -which
		}
		variable := trafficVariables[which%len(trafficVariables)]
		c := config.Default()
		err := c.FromEnv(mapEnv(map[string]string{variable: value}))
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			if !strings.Contains(err.Error(), variable) {
				t.Fatalf("%s=%q: error %q does not name the variable", variable, value, err)
			}
			return
		}
		if c.MaxConcurrentIngests < 1 || c.MaxBodyBytes < 1 || c.ReadHeaderTimeout <= 0 ||
			c.ReadTimeout < c.ReadHeaderTimeout || c.WriteTimeout < c.ReadTimeout {
			t.Fatalf("%s=%q accepted, giving concurrent %d, body %d, header %s, read %s, write %s",
				variable, value, c.MaxConcurrentIngests, c.MaxBodyBytes, c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout)
		}
	})
}
