package client

import (
	"context"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/store"
)

// QueueStatus is the answer of GET /debug/status: the shared queue's
// counts, and the attempts running in the process that answered.
type QueueStatus struct {
	store.QueueStats
	InFlightLocal int64 `json:"in_flight_local"`
}

// QueueStatus returns the queue counts (GET /debug/status; no credentials
// needed).
func (c *Client) QueueStatus(ctx context.Context) (QueueStatus, error) {
	var out QueueStatus
	err := c.call(ctx, "GET", "/debug/status", nil, nil, &out)
	return out, err
}

// Ready returns nil when the server answers GET /readyz with 200: its store
// answers. A 503 comes back as an *Error with code "store_unavailable".
func (c *Client) Ready(ctx context.Context) error {
	return c.call(ctx, "GET", "/readyz", nil, nil, nil)
}

// Destinations lists the destinations with their circuit breakers and
// their health as seen by the process that answers (GET
// /api/destinations).
func (c *Client) Destinations(ctx context.Context) ([]api.DestinationView, error) {
	var out struct {
		Items []api.DestinationView `json:"items"`
	}
	err := c.call(ctx, "GET", "/api/destinations", nil, nil, &out)
	return out.Items, err
}

// Sources lists the sources with their event counts (GET /api/sources).
func (c *Client) Sources(ctx context.Context) ([]api.SourceView, error) {
	var out struct {
		Items []api.SourceView `json:"items"`
	}
	err := c.call(ctx, "GET", "/api/sources", nil, nil, &out)
	return out.Items, err
}

// Principal is who the credentials belong to (GET /api/auth/me).
type Principal struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	// Kind is "user" for a login token, "apikey" for an API key.
	Kind string `json:"kind"`
}

// Me returns who the client's credentials belong to.
func (c *Client) Me(ctx context.Context) (Principal, error) {
	var out Principal
	err := c.call(ctx, "GET", "/api/auth/me", nil, nil, &out)
	return out, err
}

// Login exchanges a username and password for a token (POST
// /api/auth/login). The client's own credentials are not changed: build a
// new Client with the token.
func (c *Client) Login(ctx context.Context, username, password string) (api.LoginResponse, error) {
	var out api.LoginResponse
	in := map[string]string{"username": username, "password": password}
	err := c.call(ctx, "POST", "/api/auth/login", nil, in, &out)
	return out, err
}
