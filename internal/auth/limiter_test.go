package auth_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/auth"
)

// setupLimiter returns a limiter with the default budget on a fake clock.
func setupLimiter(t *testing.T, opts auth.LimiterOptions) (*auth.LoginLimiter, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	opts.Now = clock.Now
	return auth.NewLoginLimiter(opts), clock
}

// fail records n failures, checking that each was allowed first.
func fail(t *testing.T, l *auth.LoginLimiter, n int, username, addr string) {
	t.Helper()
	for i := range n {
		if ok, wait := l.Allow(username, addr); !ok {
			t.Fatalf("attempt %d for %s from %s refused (wait %v), want allowed", i+1, username, addr, wait)
		}
		l.Failure(username, addr)
	}
}

func wantBlocked(t *testing.T, l *auth.LoginLimiter, username, addr string, wantWait time.Duration) {
	t.Helper()
	ok, wait := l.Allow(username, addr)
	if ok || wait != wantWait {
		t.Fatalf("Allow(%q, %q) = %v, %v; want false, %v", username, addr, ok, wait, wantWait)
	}
}

func wantAllowed(t *testing.T, l *auth.LoginLimiter, username, addr string) {
	t.Helper()
	if ok, wait := l.Allow(username, addr); !ok || wait != 0 {
		t.Fatalf("Allow(%q, %q) = %v, %v; want true, 0", username, addr, ok, wait)
	}
}

func TestLoginLimiterBurstThenBlocked(t *testing.T) {
	t.Parallel()
	l, clock := setupLimiter(t, auth.LimiterOptions{})
	fail(t, l, auth.DefaultLoginBurst, "admin", "192.0.2.1")
	wantBlocked(t, l, "admin", "192.0.2.1", 10*time.Second)

	// Allow only looks: asking again spends nothing and waits less.
	clock.Advance(4 * time.Second)
	wantBlocked(t, l, "admin", "192.0.2.1", 6*time.Second)
	wantBlocked(t, l, "admin", "192.0.2.1", 6*time.Second)
}

func TestLoginLimiterConcurrentGuessesAllCount(t *testing.T) {
	t.Parallel()
	l, clock := setupLimiter(t, auth.LimiterOptions{})
	// Eight guesses checked at once all pass Allow before any fails...
	for range 8 {
		wantAllowed(t, l, "admin", "192.0.2.1")
	}
	for range 8 {
		l.Failure("admin", "192.0.2.1")
	}
	// ...so the three beyond the burst are paid for afterwards.
	wantBlocked(t, l, "admin", "192.0.2.1", 40*time.Second)
	clock.Advance(40 * time.Second)
	wantAllowed(t, l, "admin", "192.0.2.1")
}

func TestLoginLimiterRecovers(t *testing.T) {
	t.Parallel()
	l, clock := setupLimiter(t, auth.LimiterOptions{})
	fail(t, l, 5, "admin", "192.0.2.1")

	// One more attempt per interval once the burst is spent.
	for range 3 {
		clock.Advance(10 * time.Second)
		fail(t, l, 1, "admin", "192.0.2.1")
		wantBlocked(t, l, "admin", "192.0.2.1", 10*time.Second)
	}

	// The whole burst is back after Burst intervals of quiet.
	clock.Advance(50 * time.Second)
	fail(t, l, 5, "admin", "192.0.2.1")
	wantBlocked(t, l, "admin", "192.0.2.1", 10*time.Second)
}

func TestLoginLimiterKeysAreIndependent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		username, addr   string // the blocked pair
		otherUser, other string // the pair to try next
		wantAllowed      bool
	}{
		{name: "same user, other address", username: "admin", addr: "192.0.2.1", otherUser: "admin", other: "192.0.2.2"},
		{name: "other user, same address", username: "admin", addr: "192.0.2.1", otherUser: "viv", other: "192.0.2.1"},
		{name: "other user, other address", username: "admin", addr: "192.0.2.1", otherUser: "viv", other: "192.0.2.2", wantAllowed: true},
		{name: "user and address keys do not collide", username: "192.0.2.9", addr: "192.0.2.1", otherUser: "viv", other: "192.0.2.9", wantAllowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, _ := setupLimiter(t, auth.LimiterOptions{})
			fail(t, l, 5, tt.username, tt.addr)
			if tt.wantAllowed {
				wantAllowed(t, l, tt.otherUser, tt.other)
			} else {
				wantBlocked(t, l, tt.otherUser, tt.other, 10*time.Second)
			}
		})
	}
}

func TestLoginLimiterSuccessForgetsUsernameOnly(t *testing.T) {
	t.Parallel()
	l, _ := setupLimiter(t, auth.LimiterOptions{})
	fail(t, l, 4, "admin", "192.0.2.1")
	l.Success("admin", "192.0.2.1")

	// admin's budget is full again from a fresh address...
	fail(t, l, 5, "admin", "192.0.2.2")
	// ...but 192.0.2.1 still has only one failure left.
	fail(t, l, 1, "viv", "192.0.2.1")
	wantBlocked(t, l, "eve", "192.0.2.1", 10*time.Second)
}

func TestLoginLimiterOptions(t *testing.T) {
	t.Parallel()
	l, clock := setupLimiter(t, auth.LimiterOptions{Burst: 2, Interval: time.Minute})
	fail(t, l, 2, "admin", "192.0.2.1")
	wantBlocked(t, l, "admin", "192.0.2.1", time.Minute)
	clock.Advance(time.Minute)
	wantAllowed(t, l, "admin", "192.0.2.1")
}

func TestLoginLimiterEvictsOldest(t *testing.T) {
	t.Parallel()
	l, _ := setupLimiter(t, auth.LimiterOptions{MaxKeys: 4})
	fail(t, l, 5, "admin", "192.0.2.1") // keys user:admin, ip:192.0.2.1
	fail(t, l, 5, "a", "192.0.2.10")    // four keys: all still tracked
	wantBlocked(t, l, "admin", "192.0.2.1", 10*time.Second)
	wantBlocked(t, l, "a", "192.0.2.10", 10*time.Second)

	fail(t, l, 5, "b", "192.0.2.11") // six keys wanted: the two oldest go
	wantAllowed(t, l, "admin", "192.0.2.1")
	wantBlocked(t, l, "a", "192.0.2.10", 10*time.Second)
	wantBlocked(t, l, "b", "192.0.2.11", 10*time.Second)
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		remoteAddr string
		headers    map[string]string
		want       string
	}{
		{name: "ipv4", remoteAddr: "192.0.2.1:54321", want: "192.0.2.1"},
		{name: "ipv6", remoteAddr: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "ipv6 with zone", remoteAddr: "[fe80::1%eth0]:443", want: "fe80::1"},
		{name: "ipv4-mapped ipv6", remoteAddr: "[::ffff:192.0.2.1]:80", want: "192.0.2.1"},
		{name: "no port", remoteAddr: "192.0.2.1", want: "192.0.2.1"},
		{name: "not an address", remoteAddr: "pipe", want: "pipe"},
		{name: "forwarding headers ignored", remoteAddr: "10.0.0.1:1234",
			headers: map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8", "Forwarded": "for=203.0.113.9"},
			want:    "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/api/auth/login", nil)
			r.RemoteAddr = tt.remoteAddr
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if got := auth.ClientAddr(r); got != tt.want {
				t.Errorf("ClientAddr(RemoteAddr %q) = %q, want %q", tt.remoteAddr, got, tt.want)
			}
		})
	}
}
