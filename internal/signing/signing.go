// Package signing signs outbound deliveries per Standard Webhooks
// (https://www.standardwebhooks.com/): webhook-id, webhook-timestamp and
// webhook-signature headers, the signature being "v1," followed by the
// base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" under the destination's
// "whsec_" secret.
package signing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every Standard Webhooks secret.
const SecretPrefix = "whsec_"

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// ErrBadSecret means a secret is not "whsec_" followed by base64 of at
// least 24 bytes.
var ErrBadSecret = errors.New("signing secret must be whsec_ followed by base64 of 24 to 64 bytes")

// NewSecret returns a fresh random secret of 32 bytes.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// Signer signs with one secret; it is safe for concurrent use.
type Signer struct {
	key []byte
}

// NewSigner parses a "whsec_" secret.
func NewSigner(secret string) (*Signer, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, ErrBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, ErrBadSecret
	}
	return &Signer{key: key}, nil
}

// Sign returns the webhook-signature value for a message.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a webhook-signature header value (one or more space
// separated "v1,…" signatures) against the message, in constant time, and
// refuses timestamps further than tolerance from now.
func (s *Signer) Verify(id string, ts time.Time, body []byte, header string, now time.Time, tolerance time.Duration) error {
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %s outside tolerance %s", ts.UTC().Format(time.RFC3339), tolerance)
	}
	want := []byte(s.Sign(id, ts, body))
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}
