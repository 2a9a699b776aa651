package limit_test

import (
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/hookd/hookd/internal/limit"
	"github.com/hookd/hookd/internal/webhook"
)

func TestBucket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rateLimit float64
		burst     int
		wantLimit rate.Limit
		wantBurst int
		limited   bool
	}{
		{"zero is unlimited", 0, 0, 0, 0, false},
		{"zero with a burst is unlimited", 0, 5, 0, 0, false},
		{"negative is unlimited", -3, 0, 0, 0, false},
		{"NaN is unlimited", math.NaN(), 0, 0, 0, false},
		{"+Inf is unlimited", math.Inf(1), 0, 0, 0, false},
		{"below one per second bursts one", 0.5, 0, 0.5, 1, true},
		{"burst defaults to the rate rounded up", 2.3, 0, 2.3, 3, true},
		{"explicit burst", 10, 50, 10, 50, true},
		{"negative burst is the default", 4, -1, 4, 4, true},
		{"huge rate bounds the default burst", 1e300, 0, 1e300, 1 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, b, ok := limit.Bucket(webhook.Source{Name: "s", RateLimit: tt.rateLimit, RateBurst: tt.burst})
			if l != tt.wantLimit || b != tt.wantBurst || ok != tt.limited {
				t.Errorf("Bucket(rate %v, burst %d) = %v, %d, %v; want %v, %d, %v",
					tt.rateLimit, tt.burst, l, b, ok, tt.wantLimit, tt.wantBurst, tt.limited)
			}
		})
	}
}

// take spends one token and reports whether it was there.
func take(s *limit.Sources, src webhook.Source, now time.Time) (bool, time.Duration) {
	undo, wait := s.Take(src, now)
	return undo != nil && wait == 0, wait
}

func TestSourcesBurstThenRate(t *testing.T) {
	t.Parallel()
	s := limit.NewSources()
	src := webhook.Source{Name: "github", RateLimit: 2, RateBurst: 3}
	now := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		if ok, wait := take(s, src, now); !ok {
			t.Fatalf("request %d of the burst refused (wait %v)", i+1, wait)
		}
	}
	ok, wait := take(s, src, now)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("request past the burst: admitted %v, wait %v; want refused, 500ms (one token at 2/s)", ok, wait)
	}
	// A refusal spends nothing: the token is free after the same wait.
	if ok, _ := take(s, src, now.Add(499*time.Millisecond)); ok {
		t.Fatal("admitted before a token was free")
	}
	if ok, wait := take(s, src, now.Add(500*time.Millisecond)); !ok {
		t.Fatalf("refused once a token was free (wait %v)", wait)
	}
	// Another source has its own bucket.
	if ok, _ := take(s, webhook.Source{Name: "stripe", RateLimit: 2, RateBurst: 3}, now); !ok {
		t.Fatal("another source was refused")
	}
}

func TestSourcesChangeTakesEffect(t *testing.T) {
	t.Parallel()
	s := limit.NewSources()
	now := time.Unix(1_700_000_000, 0)
	src := webhook.Source{Name: "shop", RateLimit: 1, RateBurst: 1}
	if ok, _ := take(s, src, now); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := take(s, src, now); ok {
		t.Fatal("second request admitted with a burst of 1")
	}
	// The same values again (a catalog reload) keep what was spent.
	same := src
	if ok, _ := take(s, same, now); ok {
		t.Fatal("an unchanged source got a fresh bucket")
	}
	// A raised limit applies to the next request.
	raised := webhook.Source{Name: "shop", RateLimit: 100, RateBurst: 5}
	for i := range 5 {
		if ok, wait := take(s, raised, now); !ok {
			t.Fatalf("request %d after raising the limit refused (wait %v)", i+1, wait)
		}
	}
	if ok, wait := take(s, raised, now); ok || wait != 10*time.Millisecond {
		t.Fatalf("past the new burst: admitted %v, wait %v; want refused, 10ms", ok, wait)
	}
	// Removing the limit admits everything and drops the bucket.
	unlimited := webhook.Source{Name: "shop"}
	for range 100 {
		if ok, _ := take(s, unlimited, now); !ok {
			t.Fatal("an unlimited source was refused")
		}
	}
	if n := s.Len(); n != 0 {
		t.Errorf("%d buckets held after the limit was removed; want 0", n)
	}
}

func TestSourcesUndo(t *testing.T) {
	t.Parallel()
	s := limit.NewSources()
	now := time.Unix(1_700_000_000, 0)
	src := webhook.Source{Name: "a", RateLimit: 1, RateBurst: 1}
	undo, wait := s.Take(src, now)
	if undo == nil || wait != 0 {
		t.Fatalf("first Take = %v, %v; want a token", undo != nil, wait)
	}
	undo()
	if ok, wait := take(s, src, now); !ok {
		t.Fatalf("the token given back was not there (wait %v)", wait)
	}
}

func TestSourcesForget(t *testing.T) {
	t.Parallel()
	s := limit.NewSources()
	now := time.Unix(1_700_000_000, 0)
	src := webhook.Source{Name: "gone", RateLimit: 1, RateBurst: 1}
	take(s, src, now)
	s.Forget("gone")
	if n := s.Len(); n != 0 {
		t.Fatalf("%d buckets after Forget; want 0", n)
	}
	if ok, _ := take(s, src, now); !ok {
		t.Error("a source created again did not start with a full bucket")
	}
}
