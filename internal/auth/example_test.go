package auth_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/auth"
)

func ExampleTokens_Issue() {
	// In production: the stored secret, DefaultTokenTTL and time.Now.
	secret := auth.NewSecret()
	issuedAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tokens := auth.NewTokens(secret, auth.DefaultTokenTTL, func() time.Time { return issuedAt })

	token, expiresAt, err := tokens.Issue(auth.Principal{Username: "admin", Role: auth.RoleAdmin})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(token != "", expiresAt)
	// Output: true 2026-03-02 00:00:00 +0000 UTC
}

func ExampleTokens_Parse() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tokens := auth.NewTokens(auth.NewSecret(), time.Hour, func() time.Time { return now })
	token, _, _ := tokens.Issue(auth.Principal{Username: "viv", Role: auth.RoleViewer})

	p, err := tokens.Parse(token)
	fmt.Println(p.Username, p.Role, p.Kind, p.CanWrite(), err)

	now = now.Add(time.Hour) // the token expires
	_, err = tokens.Parse(token)
	fmt.Println(errors.Is(err, auth.ErrInvalidToken))
	// Output:
	// viv viewer user false <nil>
	// true
}

func ExampleAuthenticate() {
	tokens := auth.NewTokens(auth.NewSecret(), 0, nil)
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "hello %s", p.Username)
	})
	mux := http.NewServeMux()
	// Every /api route needs a token or key (nil: API keys are not accepted);
	// changes also need the admin role.
	api := auth.Authenticate(tokens, nil, nil)
	mux.Handle("GET /api/webhooks", api(read))
	mux.Handle("POST /api/webhooks/{id}/replay", api(auth.RequireWrite(read)))
	_ = mux
}
