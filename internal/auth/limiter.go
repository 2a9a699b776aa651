package auth

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LimiterOptions configures a [LoginLimiter]. The zero value gives the
// defaults.
type LimiterOptions struct {
	// Burst is how many failed logins a username or address may have in a
	// row before it is slowed down. Default 5.
	Burst int
	// Interval is how often one more attempt is allowed once the burst is
	// spent; the budget refills at this rate up to Burst. Default 10s.
	Interval time.Duration
	// MaxKeys bounds memory: at most this many usernames and addresses are
	// tracked, and the one whose last failure is oldest is forgotten first.
	// Default 10,000 (about 1 MB).
	MaxKeys int
	// Now reads the clock. Default time.Now.
	Now func() time.Time
}

// Limiter defaults; see LimiterOptions.
const (
	DefaultLoginBurst    = 5
	DefaultLoginInterval = 10 * time.Second
	DefaultLoginMaxKeys  = 10_000
)

// LoginLimiter slows down password guessing. It keeps a token bucket per
// username ("user:<name>") and per client address ("ip:<addr>"); each
// failed login spends one token from both, and a login is refused while
// either is empty. Guessing one account from many addresses is limited by
// the first, many accounts from one address by the second.
//
// It is in memory and per process: with several processes an attacker gets
// each process's budget, which is still a rate limit. Because only the
// oldest keys are forgotten when MaxKeys is reached, an attacker with many
// addresses can push a key out early; the bound on memory is worth it.
// Anyone can also slow down logins to a known username by failing on
// purpose; API keys are not affected.
//
// Use it in a login handler as:
//
//	if ok, wait := limiter.Allow(username, addr); !ok {
//		return auth.TooManyAttempts(wait)
//	}
//	if err := auth.CheckPassword(hash, password); err != nil {
//		limiter.Failure(username, addr)
//		return err
//	}
//	limiter.Success(username, addr)
//
// A LoginLimiter is safe for concurrent use.
type LoginLimiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	mu sync.Mutex
	// buckets holds *bucket values, most recently failed first.
	buckets *list.List
	byKey   map[string]*list.Element
}

type bucket struct {
	key     string
	limiter *rate.Limiter
}

// NewLoginLimiter returns a limiter configured by opts, with defaults for
// its zero fields.
func NewLoginLimiter(opts LimiterOptions) *LoginLimiter {
	if opts.Burst <= 0 {
		opts.Burst = DefaultLoginBurst
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultLoginInterval
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultLoginMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &LoginLimiter{
		limit:   rate.Every(opts.Interval),
		burst:   opts.Burst,
		maxKeys: opts.MaxKeys,
		now:     opts.Now,
		buckets: list.New(),
		byKey:   make(map[string]*list.Element),
	}
}

func userKey(username string) string { return "user:" + username }
func addrKey(addr string) string     { return "ip:" + addr }

// Allow reports whether a login for username from addr may be tried now,
// and if not, how long to wait until it may. Call it before checking the
// password, so that a refused attempt costs no bcrypt and reveals nothing;
// it only looks and spends nothing. Report the outcome with [Failure] or
// [Success].
func (l *LoginLimiter) Allow(username, addr string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, key := range [2]string{userKey(username), addrKey(addr)} {
		e, found := l.byKey[key]
		if !found {
			continue // never failed, or forgotten: a full bucket
		}
		tokens := e.Value.(*bucket).limiter.TokensAt(now)
		if tokens >= 1 {
			continue
		}
		wait := time.Duration(math.Ceil((1 - tokens) / float64(l.limit) * float64(time.Second)))
		retryAfter = max(retryAfter, wait)
	}
	return retryAfter == 0, retryAfter
}

// Failure records a failed login for username from addr, spending one
// token from each of their buckets. Every failure counts, even when the
// bucket is already empty (several guesses checked at once all passed
// [Allow]): the bucket goes into debt and the wait grows accordingly.
func (l *LoginLimiter) Failure(username, addr string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, key := range [2]string{userKey(username), addrKey(addr)} {
		l.bucketLocked(key).ReserveN(now, 1) // a reservation never cancelled is a debt
	}
}

// Success records a successful login: the username's failures are
// forgotten. The address's are kept, so that an attacker who owns one
// account cannot log into it to reset the budget for guessing others.
func (l *LoginLimiter) Success(username, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.byKey[userKey(username)]; ok {
		l.buckets.Remove(e)
		delete(l.byKey, userKey(username))
	}
}

// bucketLocked returns key's bucket, made full when new, marked as the most
// recently used; it evicts the least recently used beyond maxKeys.
func (l *LoginLimiter) bucketLocked(key string) *rate.Limiter {
	if e, ok := l.byKey[key]; ok {
		l.buckets.MoveToFront(e)
		return e.Value.(*bucket).limiter
	}
	b := &bucket{key: key, limiter: rate.NewLimiter(l.limit, l.burst)}
	l.byKey[key] = l.buckets.PushFront(b)
	for l.buckets.Len() > l.maxKeys {
		oldest := l.buckets.Back()
		l.buckets.Remove(oldest)
		delete(l.byKey, oldest.Value.(*bucket).key)
	}
	return b.limiter
}

// ClientAddr returns the IP address of r's client, from r.RemoteAddr, for
// keying [LoginLimiter]. It reads no forwarding header itself: any client
// can set one, and believing it would let an attacker choose a fresh
// address for every guess. Behind a proxy listed in HOOKD_TRUSTED_PROXIES,
// the server has already replaced RemoteAddr with the client that proxy
// forwards for (internal/clientip), so each client behind it has its own
// budget; behind any other proxy every client shares the proxy's address
// (the per-username limit still applies). When RemoteAddr has no port it
// is returned as it is.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().WithZone("").String()
	}
	return host
}
