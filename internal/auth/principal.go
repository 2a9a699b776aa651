package auth

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/internal/webhook"
)

// Role says what a principal may do.
type Role string

// The roles. Anything else is refused by [ParseRole] and grants nothing.
const (
	// RoleAdmin may read and change everything.
	RoleAdmin Role = "admin"
	// RoleViewer may only read.
	RoleViewer Role = "viewer"
)

// ParseRole returns the role named s ("admin" or "viewer", exactly), or an
// error wrapping webhook.ErrInvalid that names the field "role".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleViewer:
		return r, nil
	}
	return "", fmt.Errorf("%w: role: unknown role %q (want %q or %q)", webhook.ErrInvalid, s, RoleAdmin, RoleViewer)
}

// Principal kinds: how the caller proved who it is.
const (
	// KindUser is a person logged in with a password, holding a token.
	KindUser = "user"
	// KindAPIKey is a script presenting an API key.
	KindAPIKey = "apikey"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	// Username names the user, or the owner or name of an API key.
	Username string
	Role     Role
	// Kind is [KindUser] or [KindAPIKey].
	Kind string
}

// CanWrite reports whether p may change things (create, edit, delete,
// replay). Only [RoleAdmin] may; an unknown or empty role may not.
func (p Principal) CanWrite() bool {
	return p.Role == RoleAdmin
}

// principalKey is the context key of the Principal; unexported so that no
// other package can set or overwrite it except through WithPrincipal.
type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p. [Authenticate] calls it;
// tests of handlers behind the middleware may call it directly.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal stored by [WithPrincipal], and false
// when there is none (the request did not pass through [Authenticate]).
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
