package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Errors of inbound verification. They say what was wrong without echoing
// any secret or expected signature.
var (
	ErrMissingSignature = errors.New("signature header is missing")
	ErrBadSignature     = errors.New("signature does not match")
)

// VerifyGitHub checks GitHub's X-Hub-Signature-256 header ("sha256=" + hex
// HMAC-SHA256 of the raw body) in constant time.
func VerifyGitHub(secret string, body []byte, header string) error {
	if header == "" {
		return ErrMissingSignature
	}
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return ErrBadSignature
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return ErrBadSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}
