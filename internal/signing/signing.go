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
	"net/http"
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

// Errors of Verify and VerifyHeader. They never echo a secret or an
// expected signature.
var (
	// ErrNoMatchingSignature means no signature in webhook-signature was
	// made with any of the secrets over this message.
	ErrNoMatchingSignature = errors.New("no matching signature")
	// ErrTimestampOutsideTolerance means webhook-timestamp is too old or
	// too far in the future: a replay, or a clock that is off.
	ErrTimestampOutsideTolerance = errors.New("timestamp outside tolerance")
	// ErrMissingHeader means a Standard Webhooks header is absent or empty.
	ErrMissingHeader = errors.New("missing header")
)

// Signer signs with one or more secrets; it is safe for concurrent use.
// Several secrets serve a rotation: every message carries one signature per
// secret, so a receiver that knows either the new or the old secret can
// verify it, as the Standard Webhooks specification intends.
type Signer struct {
	keys [][]byte
}

// NewSigner parses one or more "whsec_" secrets. Sign signs with each, in
// the order given (the current secret first, then the one being retired);
// Verify accepts a signature made with any of them. A bad secret gives
// ErrBadSecret, wrapped with its position when it is not the first.
func NewSigner(secret string, more ...string) (*Signer, error) {
	s := &Signer{keys: make([][]byte, 0, 1+len(more))}
	for i, sec := range append([]string{secret}, more...) {
		key, err := parseSecret(sec)
		if err != nil {
			if i > 0 {
				return nil, fmt.Errorf("secret %d: %w", i+1, err)
			}
			return nil, err
		}
		s.keys = append(s.keys, key)
	}
	return s, nil
}

func parseSecret(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, ErrBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, ErrBadSecret
	}
	return key, nil
}

// sigLen is the length of one "v1,<base64 of 32 bytes>" signature.
var sigLen = len("v1,") + base64.StdEncoding.EncodedLen(sha256.Size)

// Sign returns the webhook-signature value for a message: "v1,<base64>",
// one per secret, separated by single spaces.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	out := make([]byte, 0, len(s.keys)*(sigLen+1))
	var sum [sha256.Size]byte
	for i, key := range s.keys {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, "v1,"...)
		out = base64.StdEncoding.AppendEncode(out, mac(key, id, ts, body, sum[:0]))
	}
	return string(out)
}

// mac is the HMAC-SHA256 of "{id}.{timestamp}.{body}", appended to dst.
func mac(key []byte, id string, ts time.Time, body, dst []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(dst)
}

// Verify checks a webhook-signature header value (one or more space
// separated "v1,<base64>" signatures; other versions are skipped) against
// the message, in constant time per comparison. It accepts the message when
// any signature was made with any of the signer's secrets. It refuses
// timestamps further than tolerance from now with
// ErrTimestampOutsideTolerance, and gives ErrNoMatchingSignature otherwise.
func (s *Signer) Verify(id string, ts time.Time, body []byte, header string, now time.Time, tolerance time.Duration) error {
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		when := "old"
		if d < 0 {
			d, when = -d, "in the future"
		}
		return fmt.Errorf("%w: %s is %s %s, tolerance %s", ErrTimestampOutsideTolerance,
			ts.UTC().Format(time.RFC3339), d.Round(time.Second), when, tolerance)
	}
	var sum [sha256.Size]byte
	wants := make([][]byte, len(s.keys))
	for i, key := range s.keys {
		wants[i] = mac(key, id, ts, body, sum[:0:0])
	}
	for _, field := range strings.Fields(header) {
		raw, ok := strings.CutPrefix(field, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			continue
		}
		for _, want := range wants {
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}

// VerifyHeader verifies a delivery from its three Standard Webhooks headers
// (webhook-id, webhook-timestamp in Unix seconds, webhook-signature), as a
// receiver does. A missing header gives ErrMissingHeader naming it.
func (s *Signer) VerifyHeader(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sig := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, f := range []struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, tsText}, {HeaderSignature, sig}} {
		if f.value == "" {
			return fmt.Errorf("%w: %s", ErrMissingHeader, f.name)
		}
	}
	unix, err := strconv.ParseInt(strings.TrimSpace(tsText), 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %q is not a Unix time in seconds", HeaderTimestamp, tsText)
	}
	return s.Verify(id, time.Unix(unix, 0), body, sig, now, tolerance)
}
