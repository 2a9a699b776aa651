package metrics_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/metrics"
)

// BenchmarkIngested is the cost that metrics add to each webhook.
func BenchmarkIngested(b *testing.B) {
	reg := metrics.New(metrics.Options{})
	for b.Loop() {
		reg.Ingested("github", http.StatusAccepted, false, 3*time.Millisecond)
	}
}

// BenchmarkAttempted is the cost that metrics add to each attempt.
func BenchmarkAttempted(b *testing.B) {
	reg := metrics.New(metrics.Options{})
	for b.Loop() {
		reg.Attempted("ci", metrics.OutcomeSuccess, http.StatusOK, 20*time.Millisecond, time.Second)
	}
}
