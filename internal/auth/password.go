package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/hookd/hookd/internal/webhook"
)

// DefaultCost is the bcrypt cost of stored password hashes: about 100-200 ms
// of one core per login on current hardware, slow enough to make offline
// guessing expensive and fast enough for a dashboard login.
const DefaultCost = 11

// BcryptCost is the cost [HashPassword] uses. Tests set it to bcrypt.MinCost
// to run fast; they must do so before any goroutine hashes (in TestMain).
// Production code leaves it at [DefaultCost]. Hashes keep the cost they were
// made with, so changing it never breaks [CheckPassword].
var BcryptCost = DefaultCost

// Password length rules enforced by [ValidatePassword].
const (
	// MinPasswordChars is the least number of characters (not bytes) a
	// password may have.
	MinPasswordChars = 8
	// MaxPasswordBytes is the most bytes a password may have: bcrypt ignores
	// everything past the 72nd byte, so a longer password would silently be
	// weaker than it looks.
	MaxPasswordBytes = 72
)

// ValidatePassword reports whether pw is acceptable as a new password: at
// least [MinPasswordChars] characters and at most [MaxPasswordBytes] bytes.
// The error wraps webhook.ErrInvalid and names the field "password".
func ValidatePassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordChars {
		return fmt.Errorf("%w: password: must be at least %d characters", webhook.ErrInvalid, MinPasswordChars)
	}
	if len(pw) > MaxPasswordBytes {
		return fmt.Errorf("%w: password: must be at most %d bytes", webhook.ErrInvalid, MaxPasswordBytes)
	}
	return nil
}

// HashPassword returns the bcrypt hash of password at cost [BcryptCost],
// salted, in the standard "$2a$" form suitable for storage. It refuses any
// password that [ValidatePassword] refuses, with that error, so that no weak
// or truncated password is ever stored.
func HashPassword(password string) (string, error) {
	if err := ValidatePassword(password); err != nil {
		return "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(hash), nil
}

// dummyHash is compared against when there is no user, so that a login for
// an unknown name costs as much as one for a known name.
var dummyHash = sync.OnceValue(func() []byte {
	hash, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), BcryptCost)
	if err != nil {
		panic("auth: hash dummy password: " + err.Error()) // cannot happen: valid length and cost
	}
	return hash
})

// CheckPassword reports whether password matches hash, a value returned by
// [HashPassword]. It returns nil on a match and [ErrInvalidCredentials] on a
// mismatch. Any other error means the stored hash is corrupt and is an
// internal error, not the caller's fault.
//
// An empty hash stands for "no such user": CheckPassword still spends one
// bcrypt comparison and returns ErrInvalidCredentials, so a login handler
// can pass "" for an unknown username and not reveal through its timing
// that the user does not exist.
func CheckPassword(hash, password string) error {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password)) // only to spend the time
		return ErrInvalidCredentials
	}
	if len(password) > MaxPasswordBytes {
		// bcrypt would compare only the first 72 bytes and could accept a
		// password that was never set; no stored hash came from one this long.
		return ErrInvalidCredentials
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return ErrInvalidCredentials
	}
	return fmt.Errorf("check password: stored hash: %w", err)
}

// GeneratePassword returns a new random password of 26 characters from the
// base32 alphabet (A-Z, 2-7; about 130 bits), safe in URLs, shells and
// .env files. hookd prints one for the first admin when
// HOOKD_ADMIN_PASSWORD is empty. It never fails.
func GeneratePassword() string {
	return rand.Text()
}
