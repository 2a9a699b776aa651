// Package webhook holds hookd's domain words: sources, destinations, events,
// deliveries and attempts, the delivery status machine, and the sentinel
// errors every layer shares. It imports only the standard library so that
// every other package can depend on it without dragging anything along.
package webhook

import (
	"errors"
	"regexp"
	"time"
)

// Sentinel errors. Callers check them with errors.Is; the HTTP layer maps
// each to one status code.
var (
	// ErrNotFound means the named thing does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnknownSource means a webhook arrived for a source nobody declared.
	ErrUnknownSource = errors.New("unknown source")
	// ErrBodyTooLarge means a request body exceeded its source's limit.
	ErrBodyTooLarge = errors.New("body too large")
	// ErrClosed means the component was stopped and takes no more work.
	ErrClosed = errors.New("closed")
	// ErrInvalid means input failed validation; it is wrapped with the reason.
	ErrInvalid = errors.New("invalid input")
	// ErrUnauthorized means a request failed its source's verification.
	ErrUnauthorized = errors.New("signature verification failed")
	// ErrConflict means the thing already exists or is in a state that
	// forbids the change.
	ErrConflict = errors.New("conflict")
)

// FieldError is invalid input in one field, named as the configuration
// file and the API both spell it ("verify.secret", "sources[0]"). It wraps
// ErrInvalid. Every validator returns it, so callers can place each
// problem (the file by line, the API by field).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return ErrInvalid.Error() + ": " + e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Source is a named inbound endpoint, POST /webhook/{name}.
type Source struct {
	Name string
	// MaxBodyBytes caps the request body; larger bodies are refused with 413.
	MaxBodyBytes int64
	// Verify selects how requests prove they come from the provider.
	Verify Verify
	// RateLimit caps accepted requests per second (a token bucket per
	// process); 0 means no limit. Requests over it get 429 with Retry-After.
	RateLimit float64
	// RateBurst is the bucket's size: how many requests may arrive at once
	// after a quiet spell. 0 means max(1, RateLimit rounded up).
	RateBurst int
}

// Verification schemes (Verify.Type). The empty string means none.
const (
	VerifyNone             = ""
	VerifyGitHub           = "github"            // X-Hub-Signature-256: sha256=<hex HMAC-SHA256>
	VerifyStripe           = "stripe"            // Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">
	VerifyShopify          = "shopify"           // X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256>
	VerifySlack            = "slack"             // X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:ts:body">, X-Slack-Request-Timestamp
	VerifyStandardWebhooks = "standard-webhooks" // webhook-id, webhook-timestamp, webhook-signature: v1,<base64> ...
	VerifyHMAC             = "hmac"              // any header carrying an HMAC of the body (Header, Algorithm, Encoding, Prefix)
	VerifyToken            = "token"             // a shared secret in a header (Header) or query parameter (Query)
	VerifyBasic            = "basic"             // HTTP Basic authentication (Username, Secret as the password)
)

// VerifyTypes lists every scheme Verify.Type accepts, "none" first.
var VerifyTypes = []string{"none", VerifyGitHub, VerifyStripe, VerifyShopify, VerifySlack, VerifyStandardWebhooks, VerifyHMAC, VerifyToken, VerifyBasic}

// Verify says how a source's requests prove where they come from. The zero
// value verifies nothing. AllowIPs combines with any Type (including none):
// a request must come from an allowed address and pass the scheme.
type Verify struct {
	Type string
	// Secret is the HMAC key (github, stripe, shopify, slack, hmac), the
	// "whsec_" secret (standard-webhooks), the expected token (token) or
	// the password (basic).
	Secret string
	// Header names the header carrying the signature (hmac, required) or
	// the token (token; default "Authorization", where "Bearer " may
	// precede the token).
	Header string
	// Query names a query parameter carrying the token (token), instead of
	// a header.
	Query string
	// Algorithm is the hmac scheme's hash: "sha1", "sha256" (default) or
	// "sha512".
	Algorithm string
	// Encoding is the hmac scheme's signature encoding: "hex" (default) or
	// "base64".
	Encoding string
	// Prefix precedes the encoded signature in the header (hmac), such as
	// "sha256=".
	Prefix string
	// Username is the basic scheme's user name.
	Username string
	// Tolerance bounds the age (and future skew) of a signed timestamp
	// (stripe, slack, standard-webhooks), against replays; 0 means 5m.
	Tolerance time.Duration
	// AllowIPs lists addresses or CIDR blocks (IPv4 or IPv6) requests must
	// come from; empty allows any.
	AllowIPs []string
}

// Destination is a callback URL subscribed to one or more sources.
type Destination struct {
	// Name identifies the destination; deliveries refer to it.
	Name string
	URL  string
	// Sources lists the source names whose events this destination receives.
	Sources []string
	// EventTypes, when not empty, restricts delivery to matching event types
	// (exact, or a prefix followed by "*", such as "issues.*").
	EventTypes []string
	// Headers are added to every outbound request.
	Headers map[string]string
	// Secret is the Standard Webhooks signing secret ("whsec_" + base64).
	Secret string
	// Timeout bounds one attempt, connection to last response byte.
	Timeout time.Duration
	// MaxInFlight caps concurrent attempts to this destination so that a slow
	// receiver cannot occupy the whole worker pool.
	MaxInFlight int
	// Ordering, when set, delivers this destination's events one at a
	// time per ordering key, in the order hookd accepted them (see
	// docs/ordering.md).
	Ordering *Ordering `json:",omitempty"`
	// PreviousSecret, until PreviousSecretUntil, signs every delivery too
	// (a second signature in webhook-signature), so a receiver can move to
	// the new Secret at its own pace during a rotation.
	PreviousSecret      string
	PreviousSecretUntil time.Time
	// RateLimit caps attempts per second to this destination, across all
	// processes sharing Redis (per process without Redis); 0 means no limit.
	RateLimit float64
	// CACert (PEM) replaces the system's trusted roots for this
	// destination's TLS connections, for receivers behind a private CA.
	CACert string
	// ClientCert and ClientKey (PEM), when both are set, authenticate
	// hookd to the receiver (mutual TLS).
	ClientCert string
	ClientKey  string
	// Filter, when set, is a jq program (docs/routing.md) that an event the
	// destination wants by source and type must also satisfy: it reads
	// {source, type, headers, payload} and the event is delivered when its
	// first value is neither false nor null.
	Filter string `json:",omitempty"`
	// Transform, when set, is a jq program (docs/routing.md) that reshapes
	// the outbound request (method, url, headers, payload) before it is
	// signed and sent.
	Transform string `json:",omitempty"`
	// FollowRedirects lets an attempt follow up to 5 redirects, each
	// checked by the SSRF guard like the first address; off by default, as
	// a 3xx answer is then a failed attempt.
	FollowRedirects bool
	// Retry is this destination's retry policy; its zero value follows the
	// global one (MAX_RETRIES, RETRY_BASE_DELAY, RETRY_MAX_DELAY).
	Retry RetrySettings `json:",omitzero"`
}

// Wants reports whether the destination subscribes to events of the source
// and type given.
func (d *Destination) Wants(source, eventType string) bool {
	subscribed := false
	for _, s := range d.Sources {
		if s == source || s == "*" {
			subscribed = true
			break
		}
	}
	if !subscribed {
		return false
	}
	if len(d.EventTypes) == 0 {
		return true
	}
	for _, pattern := range d.EventTypes {
		if MatchEventType(pattern, eventType) {
			return true
		}
	}
	return false
}

// MatchEventType matches an event type against a pattern: "*" matches all,
// "issues.*" matches "issues.opened", anything else must be equal.
func MatchEventType(pattern, eventType string) bool {
	if pattern == "*" {
		return true
	}
	if n := len(pattern); n > 0 && pattern[n-1] == '*' {
		prefix := pattern[:n-1]
		return len(eventType) >= len(prefix) && eventType[:len(prefix)] == prefix
	}
	return pattern == eventType
}

// Event is one received webhook, stored exactly as it arrived.
type Event struct {
	ID     string
	Source string
	Type   string
	// Body holds the raw request body bytes, unchanged.
	Body        []byte
	ContentType string
	// Headers holds the request headers worth keeping (credentials removed).
	Headers map[string]string
	// IdempotencyKey is the provider's delivery id, or empty.
	IdempotencyKey string
	ReceivedAt     time.Time
	Status         Status
}

// Delivery is one (event, destination) pair and carries the status.
type Delivery struct {
	ID          string
	EventID     string
	Destination string
	Status      Status
	// Attempts counts the tries made so far.
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	// LastReason is the failure reason of the last attempt; empty when it
	// succeeded or none was made.
	LastReason FailureReason
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Ordered marks a delivery of an ordered destination: it is claimed
	// only after every earlier delivery with the same destination and
	// OrderingKey has succeeded or been dead-lettered. OrderingKey may be
	// empty (the destination's one sequence, or the fallback for events
	// whose key could not be computed).
	Ordered     bool
	OrderingKey string
}

// Ordering is a destination's ordered delivery. With Key empty the whole
// destination is one sequence; otherwise Key is a jq program run on each
// event at ingest (input {"source","type","headers","payload"}) whose first
// value, as a string (JSON for anything but a string), names the sequence
// the event joins.
type Ordering struct {
	Key string `json:",omitempty"`
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	ID         string
	DeliveryID string
	// Number is 1 for the first try, 2 for the first retry, and so on.
	Number     int
	StartedAt  time.Time
	Duration   time.Duration
	StatusCode int
	// ResponseBody holds the first bytes of the response (at most
	// MaxResponseExcerpt).
	ResponseBody []byte
	Error        string
	// Reason classifies Error; empty when the attempt succeeded.
	Reason FailureReason
}

// MaxResponseExcerpt is how much of a receiver's response body is kept.
const MaxResponseExcerpt = 1024

// Job is a claimed delivery with what a worker needs to send it.
type Job struct {
	Delivery Delivery
	Event    Event
}

// User is a person who may use the management API and dashboard.
type User struct {
	Username string
	// PasswordHash is a bcrypt hash; the password itself is never stored.
	PasswordHash string
	// Role is "admin" (may change things) or "viewer" (reads only).
	Role      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// APIKey is a long-lived credential for scripts. Only a hash of the key is
// stored; the key is shown once, when it is created.
type APIKey struct {
	ID         string
	Name       string
	Hash       string
	Role       string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// EventSummary is an event as listed: without its body, with counts of its
// deliveries and of their attempts.
type EventSummary struct {
	Event
	BodySize   int
	Deliveries int
	Attempts   int
	LastError  string
}

// namePattern is the shape of every name hookd accepts: sources,
// destinations, users and API key labels, so that all names look alike and
// are safe in URLs, logs and metrics labels.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// ValidName reports whether s is 1-64 letters, digits, '_', '-' or '.',
// starting with a letter or digit.
func ValidName(s string) bool { return namePattern.MatchString(s) }
