// Package verify decides whether an inbound webhook request really comes
// from its source's provider, before ingest stores anything. It owns every
// scheme a source may declare (webhook.Verify.Type): the provider formats
// (GitHub, Stripe, Shopify, Slack, Standard Webhooks), a generic HMAC
// header, a shared token, HTTP Basic, and a client address allow-list that
// combines with any of them.
//
// Anyone on the internet can POST to /webhook/{source}; a Verifier is what
// stands between that and a stored, delivered event. So every check runs
// over the raw body bytes exactly as received, every comparison of a secret
// or a signature is constant-time, signed timestamps are held to a replay
// window, and errors say which header was missing, malformed, stale or
// wrong without ever echoing a secret or the expected signature.
package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"net/http"
	"net/netip"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// DefaultTolerance is the replay window of timestamped schemes (stripe,
// slack, standard-webhooks) when webhook.Verify.Tolerance is 0: a signed
// timestamp further than this from the receiver's clock, either way, is
// refused. Five minutes is what Stripe, Slack and the Standard Webhooks
// libraries use.
const DefaultTolerance = 5 * time.Minute

// Header names the schemes read.
const (
	HeaderGitHub         = "X-Hub-Signature-256"
	HeaderStripe         = "Stripe-Signature"
	HeaderShopify        = "X-Shopify-Hmac-Sha256"
	HeaderSlackSignature = "X-Slack-Signature"
	HeaderSlackTimestamp = "X-Slack-Request-Timestamp"
	HeaderWebhookID      = "webhook-id"
	HeaderWebhookTime    = "webhook-timestamp"
	HeaderWebhookSig     = "webhook-signature"
	HeaderAuthorization  = "Authorization"
)

// Verifier checks requests against one source's webhook.Verify. Build it
// once with New (which parses the allow-list, picks the hash, decodes a
// whsec_ secret) and call Verify per request; it is immutable and safe for
// concurrent use.
type Verifier struct {
	scheme    string
	tolerance time.Duration
	// key is the HMAC key: the secret's bytes, or the decoded whsec_ key.
	key  []byte
	hash func() hash.Hash
	size int // of hash's sums
	// encoding, header and prefix describe the generic hmac scheme's
	// signature; header and query say where the token scheme's token is.
	encoding string
	header   string
	prefix   string
	query    string
	// tokenDigest, userDigest and passDigest are SHA-256 digests of the
	// expected credentials, so that comparing them takes the same time
	// whatever the length of what the client sent.
	tokenDigest [sha256.Size]byte
	userDigest  [sha256.Size]byte
	passDigest  [sha256.Size]byte
	allow       []netip.Prefix
}

// New validates v (see Validate) and compiles it into a Verifier. Its
// error wraps webhook.ErrInvalid and names the field at fault.
func New(v webhook.Verify) (*Verifier, error) {
	allow, err := validate(v)
	if err != nil {
		return nil, err
	}
	ver := &Verifier{scheme: v.Type, tolerance: v.Tolerance, allow: allow}
	if ver.scheme == "none" {
		ver.scheme = webhook.VerifyNone
	}
	if ver.tolerance == 0 {
		ver.tolerance = DefaultTolerance
	}
	switch v.Type {
	case webhook.VerifyGitHub, webhook.VerifyStripe, webhook.VerifyShopify, webhook.VerifySlack:
		ver.key = []byte(v.Secret)
		ver.hash = sha256.New
	case webhook.VerifyStandardWebhooks:
		key, _ := decodeStandardSecret(v.Secret) // checked by Validate
		ver.key = key
		ver.hash = sha256.New
	case webhook.VerifyHMAC:
		ver.key = []byte(v.Secret)
		ver.hash = hashFunc(v.Algorithm)
		ver.encoding = v.Encoding
		if ver.encoding == "" {
			ver.encoding = "hex"
		}
		ver.header = http.CanonicalHeaderKey(v.Header)
		ver.prefix = v.Prefix
	case webhook.VerifyToken:
		ver.query = v.Query
		if ver.query == "" {
			ver.header = http.CanonicalHeaderKey(v.Header)
			if ver.header == "" {
				ver.header = HeaderAuthorization
			}
		}
		ver.tokenDigest = sha256.Sum256([]byte(v.Secret))
	case webhook.VerifyBasic:
		ver.userDigest = sha256.Sum256([]byte(v.Username))
		ver.passDigest = sha256.Sum256([]byte(v.Secret))
	}
	if ver.hash != nil {
		ver.size = ver.hash().Size()
	}
	return ver, nil
}

// hashFunc maps a validated hmac Algorithm to its hash.
func hashFunc(algorithm string) func() hash.Hash {
	switch algorithm {
	case "sha1":
		return sha1.New
	case "sha512":
		return sha512.New
	}
	return sha256.New
}

// Scheme returns the verification type ("" for none).
func (v *Verifier) Scheme() string { return v.scheme }

// CredentialHeader names the request header that carries a reusable
// credential under this scheme (the token, or Basic credentials), which
// must therefore never be stored or shown; "" when there is none. HMAC
// signatures are not credentials: they prove only the one body they sign.
func (v *Verifier) CredentialHeader() string {
	switch v.scheme {
	case webhook.VerifyToken:
		return v.header
	case webhook.VerifyBasic:
		return HeaderAuthorization
	}
	return ""
}

// Verify checks r and its raw body, as received, against the source's
// scheme and allow-list, with now as the receiver's clock for replay
// windows. It returns nil when the request is authentic; otherwise an
// *Error that wraps webhook.ErrUnauthorized and one of ErrMissing,
// ErrMalformed, ErrExpired, ErrMismatch or ErrForbidden (the client
// address is not allowed). The error never holds a secret or an expected
// signature. Verify does not read r.Body: the caller passes the body it
// has read, so that what is verified is exactly what is stored.
func (v *Verifier) Verify(r *http.Request, body []byte, now time.Time) error {
	if err := v.CheckAddr(r.RemoteAddr); err != nil {
		return err
	}
	switch v.scheme {
	case webhook.VerifyGitHub:
		return v.verifyGitHub(r.Header, body)
	case webhook.VerifyStripe:
		return v.verifyStripe(r.Header, body, now)
	case webhook.VerifyShopify:
		return v.verifyShopify(r.Header, body)
	case webhook.VerifySlack:
		return v.verifySlack(r.Header, body, now)
	case webhook.VerifyStandardWebhooks:
		return v.verifyStandard(r.Header, body, now)
	case webhook.VerifyHMAC:
		return v.verifyHMAC(r.Header, body)
	case webhook.VerifyToken:
		return v.verifyToken(r)
	case webhook.VerifyBasic:
		return v.verifyBasic(r)
	}
	return nil
}

// mac returns the HMAC of the parts, concatenated, under the verifier's key.
func (v *Verifier) mac(parts ...[]byte) []byte {
	m := hmac.New(v.hash, v.key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}
