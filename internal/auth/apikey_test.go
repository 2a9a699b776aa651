package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/auth"
)

func TestNewAPIKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		plaintext, hash := auth.NewAPIKey()
		rest, ok := strings.CutPrefix(plaintext, "hk_")
		if !ok {
			t.Fatalf("NewAPIKey() = %q, want prefix hk_", plaintext)
		}
		raw, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil || len(raw) != 32 {
			t.Fatalf("NewAPIKey() = %q: want 32 bytes of base64url after the prefix (got %d, %v)", plaintext, len(raw), err)
		}
		if hash != auth.HashAPIKey(plaintext) {
			t.Fatalf("NewAPIKey hash %q != HashAPIKey(plaintext) %q", hash, auth.HashAPIKey(plaintext))
		}
		if seen[plaintext] {
			t.Fatalf("NewAPIKey() repeated %q", plaintext)
		}
		seen[plaintext] = true
	}
}

func TestHashAPIKey(t *testing.T) {
	t.Parallel()
	tests := []string{"", "hk_abc", "hk_" + strings.Repeat("A", 43)}
	for _, in := range tests {
		sum := sha256.Sum256([]byte(in))
		if got, want := auth.HashAPIKey(in), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("HashAPIKey(%q) = %q, want %q", in, got, want)
		}
	}
}
