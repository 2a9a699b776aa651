package api

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/webhook"
)

func (s *Server) authRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/auth/login", Public: true, Summary: "Log in with a username and password; returns a bearer token", handler: s.login},
		{Method: "GET", Pattern: "/api/auth/me", Summary: "Who the bearer token belongs to", handler: s.me},
	}
}

// UserView is a user as the API shows it.
type UserView struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// LoginResponse answers a successful login.
type LoginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      UserView  `json:"user"`
}

// dummyHash is compared against when the user does not exist, so that a
// wrong username costs as much time as a wrong password and response times
// do not reveal which usernames exist.
var dummyHash = sync.OnceValue(func() string {
	h, _ := auth.HashPassword(auth.GeneratePassword()) // a generated password always hashes
	return h
})

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Username == "" {
		return invalid("username", "is required")
	}
	if req.Password == "" {
		return invalid("password", "is required")
	}
	addr := auth.ClientAddr(r)
	if s.opts.Limiter != nil {
		if ok, wait := s.opts.Limiter.Allow(req.Username, addr); !ok {
			return auth.TooManyAttempts(wait)
		}
	}
	fail := func() error {
		if s.opts.Limiter != nil {
			s.opts.Limiter.Failure(req.Username, addr)
		}
		s.log.Info("login failed", "username", req.Username, "addr", addr)
		return auth.ErrInvalidCredentials
	}
	u, err := s.opts.Store.UserGet(r.Context(), req.Username)
	if errors.Is(err, webhook.ErrNotFound) {
		_ = auth.CheckPassword(dummyHash(), req.Password)
		return fail()
	}
	if err != nil {
		return err
	}
	if err := auth.CheckPassword(u.PasswordHash, req.Password); err != nil {
		return fail()
	}
	role, err := auth.ParseRole(u.Role)
	if err != nil {
		return err
	}
	if s.opts.Limiter != nil {
		s.opts.Limiter.Success(req.Username, addr)
	}
	token, expires, err := s.opts.Tokens.Issue(auth.Principal{Username: u.Username, Role: role, Kind: auth.KindUser})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, LoginResponse{Token: token, ExpiresAt: expires.UTC(), User: UserView{Username: u.Username, Role: string(role)}})
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.PrincipalFrom(r.Context())
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"username": p.Username, "role": string(p.Role), "kind": p.Kind})
	return nil
}
