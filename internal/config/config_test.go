package config_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
)

// mapEnv is a Lookup over a map, so that tests never touch the process
// environment.
func mapEnv(m map[string]string) config.Lookup {
	return func(key string) (string, bool) {
		v, ok := m[key]
		return v, ok
	}
}

func TestDefaultMatchesDesign(t *testing.T) {
	t.Parallel()
	c := config.Default()
	// The table of DESIGN.md "Configuration", then the defaults the field
	// comments promise for the settings DESIGN.md leaves to us.
	tests := []struct {
		variable  string
		got, want any
	}{
		{"PORT", c.Port, 4000},
		{"DATABASE_URL", c.DatabaseURL, "sqlite://./data/hookd.db"},
		{"REDIS_URL", c.RedisURL, ""},
		{"MAX_RETRIES", c.MaxRetries, 5},
		{"RETRY_BASE_DELAY", c.RetryBaseDelay, 5000 * time.Millisecond},
		{"HOOKD_CONFIG", c.ConfigFile, ""},
		{"HOOKD_ADMIN_PASSWORD", c.AdminPassword, ""},
		{"JWT_SECRET", c.JWTSecret, ""},
		{"HOOKD_ALLOW_PRIVATE_DESTINATIONS", c.AllowPrivateDestinations, false},

		{"HOOKD_HOST", c.Host, ""},
		{"RETRY_MAX_DELAY", c.RetryMaxDelay, time.Hour},
		{"HOOKD_WORKERS", c.Workers, 64},
		{"HOOKD_SHUTDOWN_TIMEOUT", c.ShutdownTimeout, 10 * time.Second},
		{"HOOKD_LOG_LEVEL", c.LogLevel, "info"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("default %s = %v, want %v", tt.variable, tt.got, tt.want)
		}
	}
	if len(c.Sources) != 0 || len(c.Destinations) != 0 {
		t.Errorf("default has sources %v and destinations %v, want none", c.Sources, c.Destinations)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want func(*config.Config)
	}{
		{"nothing set", nil, func(*config.Config) {}},
		{"PORT", map[string]string{"PORT": "8080"}, func(c *config.Config) { c.Port = 8080 }},
		{"PORT with spaces", map[string]string{"PORT": " 8080 "}, func(c *config.Config) { c.Port = 8080 }},
		{"HOOKD_HOST", map[string]string{"HOOKD_HOST": "127.0.0.1"}, func(c *config.Config) { c.Host = "127.0.0.1" }},
		{"DATABASE_URL", map[string]string{"DATABASE_URL": "sqlite:///var/lib/hookd.db"}, func(c *config.Config) { c.DatabaseURL = "sqlite:///var/lib/hookd.db" }},
		{"REDIS_URL", map[string]string{"REDIS_URL": "redis://localhost:6379/0"}, func(c *config.Config) { c.RedisURL = "redis://localhost:6379/0" }},
		{"MAX_RETRIES", map[string]string{"MAX_RETRIES": "0"}, func(c *config.Config) { c.MaxRetries = 0 }},
		{"RETRY_BASE_DELAY is milliseconds", map[string]string{"RETRY_BASE_DELAY": "250"}, func(c *config.Config) { c.RetryBaseDelay = 250 * time.Millisecond }},
		{"RETRY_MAX_DELAY is milliseconds", map[string]string{"RETRY_MAX_DELAY": "60000"}, func(c *config.Config) { c.RetryMaxDelay = time.Minute }},
		{"HOOKD_CONFIG", map[string]string{"HOOKD_CONFIG": "/etc/hookd.yaml"}, func(c *config.Config) { c.ConfigFile = "/etc/hookd.yaml" }},
		{"HOOKD_ADMIN_PASSWORD", map[string]string{"HOOKD_ADMIN_PASSWORD": "hunter2"}, func(c *config.Config) { c.AdminPassword = "hunter2" }},
		{"JWT_SECRET", map[string]string{"JWT_SECRET": "k"}, func(c *config.Config) { c.JWTSecret = "k" }},
		{"HOOKD_ALLOW_PRIVATE_DESTINATIONS true", map[string]string{"HOOKD_ALLOW_PRIVATE_DESTINATIONS": "true"}, func(c *config.Config) { c.AllowPrivateDestinations = true }},
		{"HOOKD_ALLOW_DESTINATION_CIDRS", map[string]string{"HOOKD_ALLOW_DESTINATION_CIDRS": "10.1.2.0/24, fd00::7 192.168.1.9/16"}, func(c *config.Config) {
			c.AllowDestinationCIDRs = []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("fd00::7/128"), netip.MustParsePrefix("192.168.0.0/16")}
		}},
		{"HOOKD_TRUSTED_PROXIES", map[string]string{"HOOKD_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.10 fd00::/8"}, func(c *config.Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.10/32"), netip.MustParsePrefix("fd00::/8")}
		}},
		{"HOOKD_TRUSTED_PROXIES empty trusts no one", map[string]string{"HOOKD_TRUSTED_PROXIES": ""}, func(*config.Config) {}},
		{"HOOKD_ALLOW_PRIVATE_DESTINATIONS 1", map[string]string{"HOOKD_ALLOW_PRIVATE_DESTINATIONS": "1"}, func(c *config.Config) { c.AllowPrivateDestinations = true }},
		{"HOOKD_ALLOW_PRIVATE_DESTINATIONS false", map[string]string{"HOOKD_ALLOW_PRIVATE_DESTINATIONS": "false"}, func(*config.Config) {}},
		{"HOOKD_WORKERS", map[string]string{"HOOKD_WORKERS": "8"}, func(c *config.Config) { c.Workers = 8 }},
		{"HOOKD_SHUTDOWN_TIMEOUT is milliseconds", map[string]string{"HOOKD_SHUTDOWN_TIMEOUT": "1500"}, func(c *config.Config) { c.ShutdownTimeout = 1500 * time.Millisecond }},
		{"HOOKD_LOG_LEVEL", map[string]string{"HOOKD_LOG_LEVEL": "debug"}, func(c *config.Config) { c.LogLevel = "debug" }},
		{"HOOKD_TOKEN_TTL", map[string]string{"HOOKD_TOKEN_TTL": "2h"}, func(c *config.Config) { c.TokenTTL = 2 * time.Hour }},
		{"HOOKD_BREAKER_FAILURES", map[string]string{"HOOKD_BREAKER_FAILURES": "0"}, func(c *config.Config) { c.BreakerFailures = 0 }},
		{"HOOKD_BREAKER_COOLDOWN as a duration", map[string]string{"HOOKD_BREAKER_COOLDOWN": "1m"}, func(c *config.Config) { c.BreakerCooldown = time.Minute }},
		{"HOOKD_BREAKER_COOLDOWN as milliseconds", map[string]string{"HOOKD_BREAKER_COOLDOWN": "1500"}, func(c *config.Config) { c.BreakerCooldown = 1500 * time.Millisecond }},
		{"HOOKD_DISABLE_AFTER", map[string]string{"HOOKD_DISABLE_AFTER": "24h"}, func(c *config.Config) { c.DisableAfter = 24 * time.Hour }},
		{"HOOKD_DISABLE_AFTER 0 never disables", map[string]string{"HOOKD_DISABLE_AFTER": "0"}, func(c *config.Config) { c.DisableAfter = 0 }},
		{"empty values keep defaults", map[string]string{"PORT": "", "DATABASE_URL": "", "MAX_RETRIES": "", "HOOKD_LOG_LEVEL": ""}, func(*config.Config) {}},
		{"unrelated variables are ignored", map[string]string{"HOME": "/root", "port": "1"}, func(*config.Config) {}},
		{
			"every variable at once",
			map[string]string{
				"PORT": "9000", "HOOKD_HOST": "::1", "DATABASE_URL": "sqlite://x.db", "REDIS_URL": "redis://r",
				"MAX_RETRIES": "7", "RETRY_BASE_DELAY": "100", "RETRY_MAX_DELAY": "2000", "HOOKD_CONFIG": "h.yaml",
				"HOOKD_ADMIN_PASSWORD": "pw", "JWT_SECRET": "jwt", "HOOKD_ALLOW_PRIVATE_DESTINATIONS": "TRUE",
				"HOOKD_WORKERS": "3", "HOOKD_SHUTDOWN_TIMEOUT": "0", "HOOKD_LOG_LEVEL": "warn", "HOOKD_TOKEN_TTL": "30m",
				"HOOKD_ROLE": "worker", "HOOKD_MIGRATE": "false", "HOOKD_REDIS_PREFIX": "x:",
				"HOOKD_BREAKER_FAILURES": "3", "HOOKD_BREAKER_COOLDOWN": "10s", "HOOKD_DISABLE_AFTER": "1h",
				"HOOKD_MAX_CONCURRENT_INGESTS": "8", "HOOKD_MAX_BODY_BYTES": "4096", "HOOKD_READ_HEADER_TIMEOUT": "2s",
				"HOOKD_READ_TIMEOUT": "30000", "HOOKD_WRITE_TIMEOUT": "45s",
			},
			func(c *config.Config) {
				*c = config.Config{
					Port: 9000, Host: "::1", DatabaseURL: "sqlite://x.db", RedisURL: "redis://r",
					MaxRetries: 7, RetryBaseDelay: 100 * time.Millisecond, RetryMaxDelay: 2 * time.Second, ConfigFile: "h.yaml",
					AdminPassword: "pw", JWTSecret: "jwt", AllowPrivateDestinations: true,
					Workers: 3, ShutdownTimeout: 0, LogLevel: "warn", TokenTTL: 30 * time.Minute,
					Role: config.RoleWorker, Migrate: false, RedisPrefix: "x:",
					BreakerFailures: 3, BreakerCooldown: 10 * time.Second, DisableAfter: time.Hour,
					MaxConcurrentIngests: 8, MaxBodyBytes: 4096, ReadHeaderTimeout: 2 * time.Second,
					ReadTimeout: 30 * time.Second, WriteTimeout: 45 * time.Second,
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := config.Default()
			tt.want(&want)
			got := config.Default()
			if err := got.FromEnv(mapEnv(tt.env)); err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("FromEnv(%v)\n got  %+v\n want %+v", tt.env, got, want)
			}
		})
	}
}

func TestFromEnvErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		variable, value string
	}{
		{"PORT", "abc"},
		{"PORT", "80.5"},
		{"MAX_RETRIES", "five"},
		{"MAX_RETRIES", "99999999999999999999"},
		{"HOOKD_TOKEN_TTL", "soon"},
		{"RETRY_BASE_DELAY", "5s"},
		{"RETRY_BASE_DELAY", "1.5"},
		{"RETRY_BASE_DELAY", "9223372036855"}, // ms beyond time.Duration
		{"RETRY_MAX_DELAY", "1h"},
		{"RETRY_MAX_DELAY", "-9223372036855"},
		{"HOOKD_ALLOW_PRIVATE_DESTINATIONS", "yes"},
		{"HOOKD_WORKERS", "many"},
		{"HOOKD_SHUTDOWN_TIMEOUT", "10s"},
		{"HOOKD_BREAKER_FAILURES", "five"},
		{"HOOKD_BREAKER_COOLDOWN", "soon"},
		{"HOOKD_DISABLE_AFTER", "3 days"},
		{"HOOKD_ALLOW_DESTINATION_CIDRS", "10.0.0.0/8, intranet"},
		{"HOOKD_ALLOW_DESTINATION_CIDRS", "10.0.0.0/33"},
		{"HOOKD_TRUSTED_PROXIES", "10.0.0.0/8, lb.internal"},
		{"HOOKD_TRUSTED_PROXIES", "10.0.0.0/33"},
	}
	for _, tt := range tests {
		t.Run(tt.variable+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			err := c.FromEnv(mapEnv(map[string]string{tt.variable: tt.value}))
			if err == nil {
				t.Fatalf("FromEnv(%s=%q) = nil, want an error", tt.variable, tt.value)
			}
			if !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("error %q does not name %s", err, tt.variable)
			}
			if !strings.Contains(err.Error(), tt.value) {
				t.Errorf("error %q does not show the bad value %q", err, tt.value)
			}
			if !reflect.DeepEqual(c, config.Default()) {
				t.Errorf("a bad value changed the config: %+v", c)
			}
		})
	}
}

func TestFromEnvReportsEveryBadVariable(t *testing.T) {
	t.Parallel()
	c := config.Default()
	err := c.FromEnv(mapEnv(map[string]string{"PORT": "x", "HOOKD_WORKERS": "y", "RETRY_BASE_DELAY": "z", "MAX_RETRIES": "3"}))
	if err == nil {
		t.Fatal("FromEnv = nil, want errors")
	}
	for _, v := range []string{"PORT", "HOOKD_WORKERS", "RETRY_BASE_DELAY"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name %s", err, v)
		}
	}
	if c.MaxRetries != 3 {
		t.Errorf("MaxRetries = %d, want 3: good variables still apply", c.MaxRetries)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*config.Config)
		want   string // the variable the error must name; "" means valid
	}{
		{"defaults", func(*config.Config) {}, ""},
		{"port 0 (any free port)", func(c *config.Config) { c.Port = 0 }, ""},
		{"port 65535", func(c *config.Config) { c.Port = 65535 }, ""},
		{"MAX_RETRIES 0", func(c *config.Config) { c.MaxRetries = 0 }, ""},
		{"MAX_RETRIES 100", func(c *config.Config) { c.MaxRetries = 100 }, ""},
		{"log level error", func(c *config.Config) { c.LogLevel = "error" }, ""},
		{"base delay equals max delay", func(c *config.Config) { c.RetryBaseDelay, c.RetryMaxDelay = time.Second, time.Second }, ""},

		{"negative port", func(c *config.Config) { c.Port = -1 }, "PORT"},
		{"port too large", func(c *config.Config) { c.Port = 65536 }, "PORT"},
		{"sqlite without a path", func(c *config.Config) { c.DatabaseURL = "sqlite://" }, "DATABASE_URL"},
		{"postgres", func(c *config.Config) { c.DatabaseURL = "postgres://u@h/db" }, ""},
		{"postgresql", func(c *config.Config) { c.DatabaseURL = "postgresql://u@h/db" }, ""},
		{"worker on postgres", func(c *config.Config) { c.DatabaseURL, c.Role = "postgres://u@h/db", config.RoleWorker }, ""},
		{"mongodb", func(c *config.Config) { c.DatabaseURL = "mongodb://127.0.0.1:27017/hookd" }, ""},
		{"mongodb without a database", func(c *config.Config) { c.DatabaseURL = "mongodb://127.0.0.1:27017" }, ""},
		{"mongodb with credentials and hosts", func(c *config.Config) {
			c.DatabaseURL = "mongodb://u:p@h1:27017,h2:27017/hookd?replicaSet=rs0&authSource=admin"
		}, ""},
		{"mongodb+srv", func(c *config.Config) { c.DatabaseURL = "mongodb+srv://u:p@cluster0.example.net/hookd" }, ""},
		{"mongodb without a host", func(c *config.Config) { c.DatabaseURL = "mongodb:///hookd" }, "DATABASE_URL"},
		{"mongodb scheme only", func(c *config.Config) { c.DatabaseURL = "mongodb://" }, "DATABASE_URL"},
		{"mongodb credentials without a host", func(c *config.Config) { c.DatabaseURL = "mongodb://u:p@/hookd" }, "DATABASE_URL"},
		{"mongodb options without a host", func(c *config.Config) { c.DatabaseURL = "mongodb://?replicaSet=rs0" }, "DATABASE_URL"},
		{"mongodb+srv without a host", func(c *config.Config) { c.DatabaseURL = "mongodb+srv:///hookd" }, "DATABASE_URL"},
		{"mongo is not a scheme", func(c *config.Config) { c.DatabaseURL = "mongo://h/hookd" }, "DATABASE_URL"},
		{"worker on mongodb", func(c *config.Config) { c.DatabaseURL, c.Role = "mongodb://h/hookd", config.RoleWorker }, ""},
		{"api on mongodb+srv", func(c *config.Config) { c.DatabaseURL, c.Role = "mongodb+srv://h/hookd", config.RoleAPI }, ""},
		{"unknown database scheme", func(c *config.Config) { c.DatabaseURL = "mysql://x" }, "DATABASE_URL"},
		{"empty database URL", func(c *config.Config) { c.DatabaseURL = "" }, "DATABASE_URL"},
		{"redis", func(c *config.Config) { c.RedisURL = "redis://localhost" }, ""},
		{"redis bad scheme", func(c *config.Config) { c.RedisURL = "http://localhost" }, "REDIS_URL"},
		{"negative MAX_RETRIES", func(c *config.Config) { c.MaxRetries = -1 }, "MAX_RETRIES"},
		{"MAX_RETRIES above 100", func(c *config.Config) { c.MaxRetries = 101 }, "MAX_RETRIES"},
		{"zero base delay", func(c *config.Config) { c.RetryBaseDelay = 0 }, "RETRY_BASE_DELAY"},
		{"negative base delay", func(c *config.Config) { c.RetryBaseDelay = -time.Second }, "RETRY_BASE_DELAY"},
		{"max delay below base", func(c *config.Config) { c.RetryMaxDelay = time.Second }, "RETRY_MAX_DELAY"},
		{"zero workers", func(c *config.Config) { c.Workers = 0 }, "HOOKD_WORKERS"},
		{"too many workers", func(c *config.Config) { c.Workers = 10001 }, "HOOKD_WORKERS"},
		{"unknown log level", func(c *config.Config) { c.LogLevel = "verbose" }, "HOOKD_LOG_LEVEL"},
		{"unknown role", func(c *config.Config) { c.Role = "ingest" }, "HOOKD_ROLE"},
		{"worker on sqlite", func(c *config.Config) { c.Role = config.RoleWorker }, "HOOKD_ROLE"},
		{"api on sqlite", func(c *config.Config) { c.Role = config.RoleAPI }, "HOOKD_ROLE"},
		{"token TTL too short", func(c *config.Config) { c.TokenTTL = time.Second }, "HOOKD_TOKEN_TTL"},
		{"upper-case log level", func(c *config.Config) { c.LogLevel = "INFO" }, "HOOKD_LOG_LEVEL"},
		{"breaker off", func(c *config.Config) { c.BreakerFailures, c.DisableAfter = 0, 0 }, ""},
		{"negative breaker failures", func(c *config.Config) { c.BreakerFailures = -1 }, "HOOKD_BREAKER_FAILURES"},
		{"zero cool-down", func(c *config.Config) { c.BreakerCooldown = 0 }, "HOOKD_BREAKER_COOLDOWN"},
		{"cool-down above a day", func(c *config.Config) { c.BreakerCooldown = 25 * time.Hour }, "HOOKD_BREAKER_COOLDOWN"},
		{"negative disable-after", func(c *config.Config) { c.DisableAfter = -time.Second }, "HOOKD_DISABLE_AFTER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error naming %s", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want+":") {
				t.Errorf("Validate = %q, want it to start with %q", err, tt.want+":")
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Port, c.MaxRetries, c.Workers, c.LogLevel = -1, -1, 0, "loud"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate = nil, want errors")
	}
	for _, v := range []string{"PORT", "MAX_RETRIES", "HOOKD_WORKERS", "HOOKD_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), v+":") {
			t.Errorf("Validate = %q, does not name %s", err, v)
		}
	}
}

func TestSQLitePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		path string
		ok   bool
	}{
		{"sqlite://./data/hookd.db", "./data/hookd.db", true},
		{"sqlite:///var/lib/hookd.db", "/var/lib/hookd.db", true},
		{"sqlite://", "", true},
		{"postgres://h/db", "", false},
	}
	for _, tt := range tests {
		c := config.Config{DatabaseURL: tt.url}
		path, ok := c.SQLitePath()
		if ok != tt.ok || (ok && path != tt.path) {
			t.Errorf("SQLitePath(%q) = (%q, %v), want (%q, %v)", tt.url, path, ok, tt.path, tt.ok)
		}
	}
}

// The tests below use t.Setenv, which forbids t.Parallel. Their variable
// names are unique to them.

func writeDotenv(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write .env: %v", err)
	}
	return path
}

func TestEnvWithDotenvRealEnvWins(t *testing.T) {
	path := writeDotenv(t, "HOOKD_TEST_BOTH=from-file\nHOOKD_TEST_FILE_ONLY=file-value\n# comment\nexport HOOKD_TEST_EXPORTED=exported\n")
	t.Setenv("HOOKD_TEST_BOTH", "from-env")
	t.Setenv("HOOKD_TEST_ENV_ONLY", "env-value")

	env, err := config.EnvWithDotenv(path)
	if err != nil {
		t.Fatalf("EnvWithDotenv: %v", err)
	}
	tests := []struct {
		key  string
		want string
		ok   bool
	}{
		{"HOOKD_TEST_BOTH", "from-env", true},
		{"HOOKD_TEST_FILE_ONLY", "file-value", true},
		{"HOOKD_TEST_ENV_ONLY", "env-value", true},
		{"HOOKD_TEST_EXPORTED", "exported", true},
		{"HOOKD_TEST_NOWHERE", "", false},
	}
	for _, tt := range tests {
		if got, ok := env(tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("lookup(%s) = (%q, %v), want (%q, %v)", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEnvWithDotenvFeedsFromEnv(t *testing.T) {
	path := writeDotenv(t, "PORT=5000\nHOOKD_WORKERS=12\n")
	t.Setenv("PORT", "6000")
	t.Setenv("HOOKD_WORKERS", "") // set but empty: FromEnv keeps the default, the file does not fill in
	env, err := config.EnvWithDotenv(path)
	if err != nil {
		t.Fatalf("EnvWithDotenv: %v", err)
	}
	c := config.Default()
	if err := c.FromEnv(env); err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	if c.Port != 6000 {
		t.Errorf("Port = %d, want 6000 from the real environment", c.Port)
	}
	if c.Workers != 64 {
		t.Errorf("Workers = %d, want the default 64", c.Workers)
	}
}

func TestEnvWithDotenvMissingFile(t *testing.T) {
	t.Setenv("HOOKD_TEST_MISSING_FILE", "still-here")
	env, err := config.EnvWithDotenv(filepath.Join(t.TempDir(), "no-such.env"))
	if err != nil {
		t.Fatalf("EnvWithDotenv with a missing file: %v, want nil", err)
	}
	if got, ok := env("HOOKD_TEST_MISSING_FILE"); !ok || got != "still-here" {
		t.Errorf("lookup = (%q, %v), want the real environment's value", got, ok)
	}
	if got, ok := env("HOOKD_TEST_NOT_SET_ANYWHERE"); ok {
		t.Errorf("lookup of an unset variable = (%q, true), want false", got)
	}
}

func TestEnvWithDotenvUnreadableFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // a directory exists but cannot be read as a file
	_, err := config.EnvWithDotenv(dir)
	if err == nil {
		t.Fatal("EnvWithDotenv(a directory) = nil, want an error")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the path %s", err, dir)
	}
}
