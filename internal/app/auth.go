package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// jwtSecret returns JWT_SECRET when set, else the secret stored in the
// database, generating and storing one on first start so that tokens
// survive restarts (and are shared by every process on the same database).
func jwtSecret(ctx context.Context, cfg config.Config, st store.Store) ([]byte, error) {
	if cfg.JWTSecret != "" {
		secret, err := auth.DecodeSecret(cfg.JWTSecret)
		if err == nil {
			return secret, nil
		}
		// Not base64: a passphrase is fine too when it is long enough.
		if len(cfg.JWTSecret) >= auth.SecretBytes {
			return []byte(cfg.JWTSecret), nil
		}
		return nil, fmt.Errorf("JWT_SECRET: must be base64 of %d bytes or more (openssl rand -base64 32), or a passphrase of %d characters or more", auth.SecretBytes, auth.SecretBytes)
	}
	stored, err := st.SettingPutIfAbsent(ctx, "jwt_secret", auth.EncodeSecret(auth.NewSecret()))
	if err != nil {
		return nil, fmt.Errorf("store JWT secret: %w", err)
	}
	return auth.DecodeSecret(stored)
}

// bootstrapAdmin creates the user "admin" when there is no user at all:
// with HOOKD_ADMIN_PASSWORD, or with a generated password printed once to
// out (never logged).
func bootstrapAdmin(ctx context.Context, cfg config.Config, st store.Store, out io.Writer) error {
	n, err := st.UserCount(ctx)
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return nil
	}
	password, generated := cfg.AdminPassword, false
	if password == "" {
		password, generated = auth.GeneratePassword(), true
	} else if err := auth.ValidatePassword(password); err != nil {
		return fmt.Errorf("HOOKD_ADMIN_PASSWORD: %w", err)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	err = st.UserCreate(ctx, webhook.User{Username: "admin", PasswordHash: hash, Role: string(auth.RoleAdmin), CreatedAt: now})
	if errors.Is(err, webhook.ErrConflict) {
		// Several processes started at once on a new shared database, and
		// another one created it first (and printed its password).
		return nil
	}
	if err != nil {
		return fmt.Errorf("create admin: %w", err)
	}
	if generated && out != nil {
		fmt.Fprintf(out, "hookd: created user \"admin\" with password (shown once; change it with `hookd user passwd admin`):\n  %s\n", password)
	}
	return nil
}

// apiKeys adapts the store's API keys to auth.APIKeyLookup.
type apiKeys struct{ st store.Store }

func (k apiKeys) APIKeyGetByHash(ctx context.Context, hash string) (auth.Principal, error) {
	key, err := k.st.APIKeyGetByHash(ctx, hash)
	if err != nil {
		return auth.Principal{}, err
	}
	role, err := auth.ParseRole(key.Role)
	if err != nil {
		return auth.Principal{}, err
	}
	return auth.Principal{Username: key.Name, Role: role, Kind: auth.KindAPIKey}, nil
}
