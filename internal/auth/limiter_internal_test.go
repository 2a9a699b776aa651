package auth

import (
	"strconv"
	"testing"
)

// TestLoginLimiterMemoryBound checks the bound itself, which the exported
// API can only show indirectly.
func TestLoginLimiterMemoryBound(t *testing.T) {
	t.Parallel()
	l := NewLoginLimiter(LimiterOptions{MaxKeys: 100})
	for i := range 1000 {
		l.Failure("user"+strconv.Itoa(i), "192.0.2."+strconv.Itoa(i%256))
		if n, m := l.buckets.Len(), len(l.byKey); n > 100 || n != m {
			t.Fatalf("after %d failures: %d buckets, %d map entries; want equal and at most 100", i+1, n, m)
		}
	}
	if d := NewLoginLimiter(LimiterOptions{}); d.maxKeys != DefaultLoginMaxKeys || d.burst != DefaultLoginBurst {
		t.Errorf("defaults: maxKeys %d burst %d", d.maxKeys, d.burst)
	}
}
