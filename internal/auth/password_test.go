package auth_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/webhook"
)

func TestHashAndCheckPassword(t *testing.T) {
	t.Parallel()
	const password = "correct horse battery"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != auth.BcryptCost {
		t.Fatalf("bcrypt.Cost(hash) = %d, %v; want %d", cost, err, auth.BcryptCost)
	}
	if strings.Contains(hash, password) {
		t.Fatal("hash contains the password")
	}
	again, err := auth.HashPassword(password)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if again == hash {
		t.Fatal("two hashes of one password are equal; want distinct salts")
	}

	tests := []struct {
		name     string
		hash     string
		password string
		want     error // nil for a match
		other    bool  // want an internal error, not ErrInvalidCredentials
	}{
		{name: "match", hash: hash, password: password},
		{name: "second hash matches", hash: again, password: password},
		{name: "mismatch", hash: hash, password: "correct horse battery!", want: auth.ErrInvalidCredentials},
		{name: "empty password", hash: hash, password: "", want: auth.ErrInvalidCredentials},
		{name: "case differs", hash: hash, password: strings.ToUpper(password), want: auth.ErrInvalidCredentials},
		{name: "no such user", hash: "", password: password, want: auth.ErrInvalidCredentials},
		{name: "longer than bcrypt reads", hash: mustHash(t, strings.Repeat("a", 72)), password: strings.Repeat("a", 73), want: auth.ErrInvalidCredentials},
		{name: "corrupt hash", hash: "$2a$04$short", password: password, other: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := auth.CheckPassword(tt.hash, tt.password)
			switch {
			case tt.other:
				if err == nil || errors.Is(err, auth.ErrInvalidCredentials) {
					t.Fatalf("CheckPassword = %v, want an internal error", err)
				}
			case tt.want == nil && err != nil:
				t.Fatalf("CheckPassword = %v, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("CheckPassword = %v, want %v", err, tt.want)
			}
		})
	}
}

func mustHash(t *testing.T, password string) string {
	t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatalf("HashPassword(%q): %v", password, err)
	}
	return hash
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pw   string
		ok   bool
	}{
		{name: "empty", pw: ""},
		{name: "seven", pw: "1234567"},
		{name: "eight", pw: "12345678", ok: true},
		{name: "eight runes in more bytes", pw: "éééééééé", ok: true},
		{name: "seven runes in ten bytes", pw: "ééé4567"},
		{name: "72 bytes", pw: strings.Repeat("x", 72), ok: true},
		{name: "73 bytes", pw: strings.Repeat("x", 73)},
		{name: "37 two-byte runes", pw: strings.Repeat("é", 37)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := auth.ValidatePassword(tt.pw)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidatePassword = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, webhook.ErrInvalid) {
				t.Fatalf("ValidatePassword = %v, want one wrapping webhook.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "password") {
				t.Errorf("ValidatePassword error %q does not name the field", err)
			}
			if _, herr := auth.HashPassword(tt.pw); !errors.Is(herr, webhook.ErrInvalid) {
				t.Errorf("HashPassword = %v, want the validation error", herr)
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		pw := auth.GeneratePassword()
		if len(pw) < 20 {
			t.Fatalf("GeneratePassword() = %q, want at least 20 characters", pw)
		}
		for _, r := range pw {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", r) {
				t.Fatalf("GeneratePassword() = %q has %q, not URL-safe", pw, r)
			}
		}
		if err := auth.ValidatePassword(pw); err != nil {
			t.Fatalf("ValidatePassword(GeneratePassword()) = %v", err)
		}
		if seen[pw] {
			t.Fatalf("GeneratePassword() repeated %q", pw)
		}
		seen[pw] = true
	}
}
