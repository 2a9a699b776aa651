package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// APIKeyPrefix starts every API key, so that keys are recognisable in
// configs and by secret scanners, and so that [Authenticate] can tell a key
// from a token without trying both.
const APIKeyPrefix = "hk_"

// apiKeyRandomBytes is the entropy of a key: 256 bits.
const apiKeyRandomBytes = 32

// apiKeyLen is the length of a key: the prefix and 32 bytes in unpadded
// base64url (43 characters).
var apiKeyLen = len(APIKeyPrefix) + base64.RawURLEncoding.EncodedLen(apiKeyRandomBytes)

// NewAPIKey returns a new API key. The plaintext ("hk_" followed by 32
// random bytes in unpadded base64url) is shown to its owner once and never
// stored; hash, equal to HashAPIKey(plaintext), is what the store keeps and
// looks keys up by. It never fails.
func NewAPIKey() (plaintext string, hash string) {
	b := make([]byte, apiKeyRandomBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails; it crashes the program instead
	plaintext = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return plaintext, HashAPIKey(plaintext)
}

// HashAPIKey returns the lowercase hex SHA-256 of plaintext, the form in
// which API keys are stored and looked up.
//
// A fast, unsalted hash is right here, unlike for passwords: a key holds 256
// random bits, so nobody can guess it by trying hashes however fast they
// are, while a slow hash would put a bcrypt on every API request. Being
// deterministic, the hash can also be the store's lookup key.
func HashAPIKey(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// looksLikeAPIKey reports whether s has the shape NewAPIKey produces, so
// that garbage is refused without a store lookup.
func looksLikeAPIKey(s string) bool {
	if len(s) != apiKeyLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(APIKeyPrefix):])
	return err == nil
}
