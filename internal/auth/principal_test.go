package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/webhook"
)

func TestParseRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want auth.Role
		ok   bool
	}{
		{in: "admin", want: auth.RoleAdmin, ok: true},
		{in: "viewer", want: auth.RoleViewer, ok: true},
		{in: ""},
		{in: "Admin"},
		{in: " admin"},
		{in: "root"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := auth.ParseRole(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("ParseRole(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, webhook.ErrInvalid) || !strings.Contains(err.Error(), "role") {
				t.Fatalf("ParseRole(%q) error = %v, want one wrapping ErrInvalid naming role", tt.in, err)
			}
			if got != "" {
				t.Errorf("ParseRole(%q) = %q on error, want empty", tt.in, got)
			}
		})
	}
}

func TestCanWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role auth.Role
		want bool
	}{
		{role: auth.RoleAdmin, want: true},
		{role: auth.RoleViewer},
		{role: ""},
		{role: "root"},
	}
	for _, tt := range tests {
		if got := (auth.Principal{Username: "u", Role: tt.role}).CanWrite(); got != tt.want {
			t.Errorf("Principal{Role: %q}.CanWrite() = %v, want %v", tt.role, got, tt.want)
		}
	}
}

func TestPrincipalContext(t *testing.T) {
	t.Parallel()
	if p, ok := auth.PrincipalFrom(context.Background()); ok {
		t.Fatalf("PrincipalFrom(empty context) = %+v, true; want false", p)
	}
	want := auth.Principal{Username: "admin", Role: auth.RoleAdmin, Kind: auth.KindUser}
	got, ok := auth.PrincipalFrom(auth.WithPrincipal(context.Background(), want))
	if !ok || got != want {
		t.Fatalf("PrincipalFrom = %+v, %v; want %+v, true", got, ok, want)
	}
}
