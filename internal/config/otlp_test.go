package config_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/config"
)

// TestOTLPEndpoint: HOOKD_OTLP_ENDPOINT wins over the standard
// OTEL_EXPORTER_OTLP_ENDPOINT, tracing stays off without either, and a
// value that is not an http(s) URL is refused naming the variable.
func TestOTLPEndpoint(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"off by default", nil, "", false},
		{"standard variable", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "http://collector:4318", false},
		{"hookd's wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "HOOKD_OTLP_ENDPOINT": "https://b:4318"}, "https://b:4318", false},
		{"not a URL", map[string]string{"HOOKD_OTLP_ENDPOINT": "collector:4318"}, "collector:4318", true},
		{"grpc scheme", map[string]string{"HOOKD_OTLP_ENDPOINT": "grpc://collector:4317"}, "grpc://collector:4317", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			if err := cfg.FromEnv(mapEnv(tt.env)); err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if cfg.OTLPEndpoint != tt.want {
				t.Errorf("OTLPEndpoint = %q; want %q", cfg.OTLPEndpoint, tt.want)
			}
			err := cfg.Validate()
			if tt.wantErr != (err != nil) || (err != nil && !strings.Contains(err.Error(), "HOOKD_OTLP_ENDPOINT")) {
				t.Errorf("Validate() = %v; want an error naming HOOKD_OTLP_ENDPOINT: %v", err, tt.wantErr)
			}
		})
	}
}
