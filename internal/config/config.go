// Package config turns environment variables, a .env file, flags and the
// YAML file of sources and destinations into one Config value that is passed
// down; nothing reads the environment after this package.
package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/hookd/hookd/internal/clientip"
	"github.com/hookd/hookd/internal/webhook"
)

// Config is everything hookd needs to run. The zero value is not useful;
// start from Default.
type Config struct {
	// Port is the HTTP port of ingest, API and dashboard. Default 4000.
	Port int
	// Host is the address to bind. Default "" (all interfaces).
	Host string
	// DatabaseURL selects the store: sqlite://PATH (one process),
	// postgres://… or mongodb://… / mongodb+srv://… (shared by several
	// processes; on FerretDB only one). Default sqlite://./data/hookd.db.
	DatabaseURL string
	// RedisURL selects the queue; empty (the default) is the embedded queue.
	RedisURL string
	// RedisPrefix starts every Redis key, so deployments can share a Redis.
	// Default "webhook:".
	RedisPrefix string
	// MaxRetries is the number of retries after the first try. Default 5.
	MaxRetries int
	// RetryBaseDelay is the delay before the first retry; retry n waits
	// RetryBaseDelay * 2^(n-1), with jitter. Default 5s.
	RetryBaseDelay time.Duration
	// RetryMaxDelay caps every retry delay, Retry-After included. Default 1h.
	RetryMaxDelay time.Duration
	// ConfigFile is the YAML file of sources and destinations. Default empty:
	// ./hookd.yaml when that exists, else no sources.
	ConfigFile string
	// AdminPassword seeds the first user. Default empty.
	AdminPassword string
	// JWTSecret signs dashboard tokens. Default empty (generated, stored).
	JWTSecret string
	// TokenTTL is how long a login token stays valid. Default 12h.
	TokenTTL time.Duration
	// AllowPrivateDestinations lets deliveries reach loopback and private
	// addresses. Default false.
	AllowPrivateDestinations bool
	// AllowDestinationCIDRs lists internal networks deliveries may reach
	// although the SSRF guard refuses internal addresses. Default none.
	AllowDestinationCIDRs []netip.Prefix
	// TrustedProxies lists the reverse proxies and load balancers whose
	// X-Forwarded-For is believed when they are the TCP peer, so that
	// allow-lists and the login limiter see the client behind them
	// (internal/clientip). HOOKD_TRUSTED_PROXIES. Default none: the peer
	// address is the client and forwarding headers are ignored.
	TrustedProxies []netip.Prefix
	// Workers bounds concurrent delivery attempts. Default 64.
	Workers int
	// ShutdownTimeout bounds how long a graceful stop waits for in-flight
	// attempts before handing them back to the queue. Default 10s.
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string
	// Role selects what this process does: RoleAll (the default) runs
	// everything; RoleAPI serves ingest, the API and the operations
	// endpoints without delivering; RoleWorker delivers and serves only the
	// operations endpoints. Split roles need a store that several processes
	// share.
	Role string
	// Migrate applies the store's pending migrations on start. Default true.
	Migrate bool
	// BreakerFailures is how many consecutive failed attempts open a
	// destination's circuit; 0 turns the breaker off. Default 5.
	BreakerFailures int
	// BreakerCooldown is how long an open circuit holds deliveries back
	// before one probe attempt; it doubles with each failed probe, up to
	// 10 minutes. Default 30s.
	BreakerCooldown time.Duration
	// DisableAfter disables a destination whose attempts have all failed
	// for this long, until an admin enables it; 0 never disables. Default
	// 72h.
	DisableAfter time.Duration
	// MaxConcurrentIngests caps the webhooks this process receives at
	// once (headers in, answer not yet written, slow bodies included); one
	// more gets 503 with Retry-After at once rather than waiting in memory.
	// Default 1024.
	MaxConcurrentIngests int
	// MaxBodyBytes caps every webhook body whatever its source allows: a
	// source's max_body_bytes above it has no effect beyond it. Default
	// 64 MiB.
	MaxBodyBytes int64
	// ReadHeaderTimeout bounds the time a client may take to send its
	// request line and headers (slowloris). Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the time a client may take to send a whole
	// request, headers and body. Default 60s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the
	// end of its answer. It is at least ReadTimeout, so that a body read
	// until the last moment can still be answered; the live stream and
	// exports extend it as they write. Default 90s, or ReadTimeout + 30s
	// when only HOOKD_READ_TIMEOUT raises the read timeout above it.
	WriteTimeout time.Duration
	// OTLPEndpoint turns tracing on: spans go to this OTLP/HTTP collector
	// URL (such as http://otel-collector:4318). From HOOKD_OTLP_ENDPOINT,
	// else the standard OTEL_EXPORTER_OTLP_ENDPOINT. Default empty: off.
	OTLPEndpoint string

	// Retention is the age after which finished events (success or
	// permanent_failure, nothing left to deliver) are deleted with their
	// deliveries and attempts, by a background job in every process.
	// HOOKD_RETENTION, a duration such as 720h. Default 0: keep forever,
	// because deleting is the one step hookd cannot undo, and how long
	// webhooks must be kept is the operator's decision, not hookd's.
	Retention time.Duration
	// CompressOver stores event bodies longer than this many bytes
	// gzip-compressed (read back unchanged). HOOKD_COMPRESS_OVER. Default
	// 0: every body stored as received, so that the events list's body
	// search (q=) sees every body.
	CompressOver int

	// Sources and Destinations come from ConfigFile.
	Sources      []webhook.Source
	Destinations []webhook.Destination
}

// The roles a process can take.
const (
	RoleAll    = "all"
	RoleAPI    = "api"
	RoleWorker = "worker"
)

// Default returns the documented defaults.
func Default() Config {
	return Config{
		Port:            4000,
		DatabaseURL:     "sqlite://./data/hookd.db",
		MaxRetries:      5,
		RetryBaseDelay:  5 * time.Second,
		RetryMaxDelay:   time.Hour,
		Workers:         64,
		ShutdownTimeout: 10 * time.Second,
		LogLevel:        "info",
		TokenTTL:        12 * time.Hour,
		Role:            RoleAll,
		RedisPrefix:     "webhook:",
		Migrate:         true,
		BreakerFailures: 5,
		BreakerCooldown: 30 * time.Second,
		DisableAfter:    72 * time.Hour,

		MaxConcurrentIngests: 1024,
		MaxBodyBytes:         DefaultBodyCap,
		ReadHeaderTimeout:    10 * time.Second,
		ReadTimeout:          60 * time.Second,
		WriteTimeout:         90 * time.Second,
	}
}

// Lookup reads one variable, like os.LookupEnv.
type Lookup func(key string) (string, bool)

// EnvWithDotenv returns a Lookup over the process environment backed by the
// .env file at path, if there is one: real variables win over the file. A
// missing file is not an error.
func EnvWithDotenv(path string) (Lookup, error) {
	file := map[string]string{}
	if _, err := os.Stat(path); err == nil {
		file, err = godotenv.Read(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return func(key string) (string, bool) {
		if v, ok := os.LookupEnv(key); ok {
			return v, true
		}
		v, ok := file[key]
		return v, ok
	}, nil
}

// FromEnv applies environment variables on top of c. Errors name the
// variable.
func (c *Config) FromEnv(env Lookup) error {
	var errs []error
	str := func(key string, dst *string) {
		if v, ok := env(key); ok && v != "" {
			*dst = v
		}
	}
	integer := func(key string, dst *int) {
		if v, ok := env(key); ok && v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number", key, v))
				return
			}
			*dst = n
		}
	}
	millis := func(key string, dst *time.Duration) {
		if v, ok := env(key); ok && v != "" {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a number of milliseconds", key, v))
				return
			}
			if n > int64(math.MaxInt64/time.Millisecond) || n < int64(math.MinInt64/time.Millisecond) {
				// The multiplication below would wrap around.
				errs = append(errs, fmt.Errorf("%s: %q milliseconds is out of range", key, v))
				return
			}
			*dst = time.Duration(n) * time.Millisecond
		}
	}
	boolean := func(key string, dst *bool) {
		if v, ok := env(key); ok && v != "" {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not true or false", key, v))
				return
			}
			*dst = b
		}
	}
	integer("PORT", &c.Port)
	str("HOOKD_HOST", &c.Host)
	str("DATABASE_URL", &c.DatabaseURL)
	str("REDIS_URL", &c.RedisURL)
	str("HOOKD_REDIS_PREFIX", &c.RedisPrefix)
	integer("MAX_RETRIES", &c.MaxRetries)
	millis("RETRY_BASE_DELAY", &c.RetryBaseDelay)
	millis("RETRY_MAX_DELAY", &c.RetryMaxDelay)
	str("HOOKD_CONFIG", &c.ConfigFile)
	str("HOOKD_ADMIN_PASSWORD", &c.AdminPassword)
	str("JWT_SECRET", &c.JWTSecret)
	if v, ok := env("HOOKD_TOKEN_TTL"); ok && v != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("HOOKD_TOKEN_TTL: %q is not a duration such as 1h or 30m", v))
		} else {
			c.TokenTTL = d
		}
	}
	boolean("HOOKD_ALLOW_PRIVATE_DESTINATIONS", &c.AllowPrivateDestinations)
	if v, ok := env("HOOKD_ALLOW_DESTINATION_CIDRS"); ok {
		var nets []netip.Prefix
		var bad []string
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				a, aerr := netip.ParseAddr(f) // a bare address is its own network
				if aerr != nil || a.Zone() != "" {
					bad = append(bad, f)
					continue
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			nets = append(nets, p.Masked())
		}
		if len(bad) > 0 {
			errs = append(errs, fmt.Errorf("HOOKD_ALLOW_DESTINATION_CIDRS: %q: %q is not an IP address or CIDR block such as 10.1.0.0/16", v, bad[0]))
		} else {
			c.AllowDestinationCIDRs = nets
		}
	}
	if v, ok := env("HOOKD_TRUSTED_PROXIES"); ok {
		nets, err := clientip.ParseTrusted(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("HOOKD_TRUSTED_PROXIES: %q: %w", v, err))
		} else {
			c.TrustedProxies = nets
		}
	}
	integer("HOOKD_WORKERS", &c.Workers)
	millis("HOOKD_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	str("HOOKD_LOG_LEVEL", &c.LogLevel)
	str("HOOKD_ROLE", &c.Role)
	boolean("HOOKD_MIGRATE", &c.Migrate)
	integer("HOOKD_BREAKER_FAILURES", &c.BreakerFailures)
	// A duration such as 30s or 72h, or a whole number of milliseconds.
	duration := func(key string, dst *time.Duration) {
		if v, ok := env(key); ok && strings.TrimSpace(v) != "" {
			if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				millis(key, dst)
				return
			}
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 30s or 72h (or a number of milliseconds)", key, v))
				return
			}
			*dst = d
		}
	}
	duration("HOOKD_BREAKER_COOLDOWN", &c.BreakerCooldown)
	duration("HOOKD_DISABLE_AFTER", &c.DisableAfter)
	duration("HOOKD_RETENTION", &c.Retention)
	integer("HOOKD_MAX_CONCURRENT_INGESTS", &c.MaxConcurrentIngests)
	integer("HOOKD_COMPRESS_OVER", &c.CompressOver)
	if v, ok := env("HOOKD_MAX_BODY_BYTES"); ok && v != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
			errs = append(errs, fmt.Errorf("HOOKD_MAX_BODY_BYTES: %q is not a whole number of bytes", v))
		} else {
			c.MaxBodyBytes = n
		}
	}
	duration("HOOKD_READ_HEADER_TIMEOUT", &c.ReadHeaderTimeout)
	duration("HOOKD_READ_TIMEOUT", &c.ReadTimeout)
	duration("HOOKD_WRITE_TIMEOUT", &c.WriteTimeout)
	str("OTEL_EXPORTER_OTLP_ENDPOINT", &c.OTLPEndpoint)
	str("HOOKD_OTLP_ENDPOINT", &c.OTLPEndpoint) // wins over the standard one
	if v, _ := env("HOOKD_WRITE_TIMEOUT"); strings.TrimSpace(v) == "" && c.WriteTimeout < c.ReadTimeout {
		// Only HOOKD_READ_TIMEOUT was raised: keep the answer's time after
		// the last moment of the body rather than refusing to start.
		c.WriteTimeout = c.ReadTimeout + 30*time.Second
	}
	return errors.Join(errs...)
}

// SQLitePath returns the file path of a sqlite:// DatabaseURL.
func (c *Config) SQLitePath() (string, bool) {
	p, ok := strings.CutPrefix(c.DatabaseURL, "sqlite://")
	return p, ok
}

// IsMongo reports whether DatabaseURL names MongoDB (mongodb:// or
// mongodb+srv://).
func (c *Config) IsMongo() bool {
	return strings.HasPrefix(c.DatabaseURL, "mongodb://") || strings.HasPrefix(c.DatabaseURL, "mongodb+srv://")
}

// Validate checks the settings that do not come from the file (LoadFile
// checks those) and returns every problem, each naming its variable.
func (c *Config) Validate() error {
	var errs []error
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT: %d is not a port number", c.Port))
	}
	switch {
	case strings.HasPrefix(c.DatabaseURL, "sqlite://"):
		if p, _ := c.SQLitePath(); p == "" {
			errs = append(errs, errors.New("DATABASE_URL: sqlite:// needs a file path, such as sqlite://./data/hookd.db"))
		}
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
	case c.IsMongo():
		// The driver parses the rest (hosts, options) when the store opens;
		// an empty host list is caught here, where the error can name the
		// variable, rather than as a driver error at start.
		rest := c.DatabaseURL[strings.Index(c.DatabaseURL, "://")+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		if hosts, _, _ := strings.Cut(rest, "/"); strings.TrimSpace(hosts) == "" || strings.HasPrefix(hosts, "?") {
			errs = append(errs, errors.New("DATABASE_URL: mongodb:// needs a host, such as mongodb://127.0.0.1:27017/hookd"))
		}
	default:
		errs = append(errs, fmt.Errorf("DATABASE_URL: %q must start with sqlite://, postgres://, mongodb:// or mongodb+srv://", c.DatabaseURL))
	}
	if c.RedisURL != "" {
		if !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
			errs = append(errs, fmt.Errorf("REDIS_URL: %q must start with redis:// or rediss://", c.RedisURL))
		}
	}
	if c.MaxRetries < 0 || c.MaxRetries > 100 {
		errs = append(errs, fmt.Errorf("MAX_RETRIES: %d is outside 0..100", c.MaxRetries))
	}
	if c.RetryBaseDelay <= 0 {
		errs = append(errs, fmt.Errorf("RETRY_BASE_DELAY: must be positive, got %s", c.RetryBaseDelay))
	}
	if c.RetryMaxDelay < c.RetryBaseDelay {
		errs = append(errs, fmt.Errorf("RETRY_MAX_DELAY: %s is below RETRY_BASE_DELAY %s", c.RetryMaxDelay, c.RetryBaseDelay))
	}
	// Under an hour is almost surely a unit slip (720 read as
	// milliseconds, 30m meant as months), and would delete events that a
	// person may still want to look at.
	if c.CompressOver < 0 {
		errs = append(errs, fmt.Errorf("HOOKD_COMPRESS_OVER: %d is negative (0 stores every body as received)", c.CompressOver))
	}
	if c.Retention != 0 && c.Retention < time.Hour {
		errs = append(errs, fmt.Errorf("HOOKD_RETENTION: %s is below 1h (0 keeps events forever)", c.Retention))
	}
	if c.TokenTTL < time.Minute || c.TokenTTL > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("HOOKD_TOKEN_TTL: %s is outside 1m..720h", c.TokenTTL))
	}
	if c.Workers < 1 || c.Workers > 10000 {
		errs = append(errs, fmt.Errorf("HOOKD_WORKERS: %d is outside 1..10000", c.Workers))
	}
	if c.BreakerFailures < 0 || c.BreakerFailures > 10000 {
		errs = append(errs, fmt.Errorf("HOOKD_BREAKER_FAILURES: %d is outside 0..10000 (0 turns the breaker off)", c.BreakerFailures))
	}
	if c.BreakerCooldown <= 0 || c.BreakerCooldown > 24*time.Hour {
		errs = append(errs, fmt.Errorf("HOOKD_BREAKER_COOLDOWN: %s is outside 1ms..24h", c.BreakerCooldown))
	}
	if c.DisableAfter < 0 {
		errs = append(errs, fmt.Errorf("HOOKD_DISABLE_AFTER: %s is negative (0 never disables)", c.DisableAfter))
	}
	errs = append(errs, c.validateTraffic()...)
	switch c.Role {
	case RoleAll:
	case RoleAPI, RoleWorker:
		if strings.HasPrefix(c.DatabaseURL, "sqlite://") {
			errs = append(errs, fmt.Errorf("HOOKD_ROLE: %q needs a store that several processes share (DATABASE_URL=postgres://… or mongodb://…); the embedded SQLite store serves one process, which runs every role", c.Role))
		}
	default:
		errs = append(errs, fmt.Errorf("HOOKD_ROLE: %q is not all, api or worker", c.Role))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("HOOKD_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("HOOKD_OTLP_ENDPOINT: %q is not an http:// or https:// URL such as http://otel-collector:4318", c.OTLPEndpoint))
		}
	}
	return errors.Join(errs...)
}

// DefaultBodyCap is the default of Config.MaxBodyBytes, and MaxBodyCap the
// most it may be set to (a PostgreSQL bytea value holds at most 1 GB).
const (
	DefaultBodyCap = 64 << 20
	MaxBodyCap     = 1 << 30
)

// validateTraffic checks the inbound limits and the server's timeouts.
func (c *Config) validateTraffic() []error {
	var errs []error
	if c.MaxConcurrentIngests < 1 || c.MaxConcurrentIngests > 1_000_000 {
		errs = append(errs, fmt.Errorf("HOOKD_MAX_CONCURRENT_INGESTS: %d is outside 1..1000000", c.MaxConcurrentIngests))
	}
	// Sources are checked against it where they are validated (the
	// catalog); ingest enforces it whatever a source says.
	if c.MaxBodyBytes < 1 || c.MaxBodyBytes > MaxBodyCap {
		errs = append(errs, fmt.Errorf("HOOKD_MAX_BODY_BYTES: %d is outside 1..%d", c.MaxBodyBytes, MaxBodyCap))
	}
	// Zero would mean no timeout at all, which is what slowloris needs.
	if c.ReadHeaderTimeout < time.Millisecond || c.ReadHeaderTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("HOOKD_READ_HEADER_TIMEOUT: %s is outside 1ms..10m", c.ReadHeaderTimeout))
	}
	// The read deadline covers the headers too; a shorter one would leave
	// no time for the body.
	if c.ReadTimeout < c.ReadHeaderTimeout || c.ReadTimeout > time.Hour {
		errs = append(errs, fmt.Errorf("HOOKD_READ_TIMEOUT: %s is outside HOOKD_READ_HEADER_TIMEOUT (%s)..1h", c.ReadTimeout, c.ReadHeaderTimeout))
	}
	if c.WriteTimeout < c.ReadTimeout || c.WriteTimeout > 2*time.Hour {
		errs = append(errs, fmt.Errorf("HOOKD_WRITE_TIMEOUT: %s is outside HOOKD_READ_TIMEOUT (%s)..2h", c.WriteTimeout, c.ReadTimeout))
	}
	return errs
}
