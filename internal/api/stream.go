package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/stream"
	"github.com/hookd/hookd/internal/webhook"
)

// The live stream is marked Public in the route table only because the
// table's middleware reads the token from the Authorization header, which
// a browser's EventSource cannot send. The handler authenticates every
// request itself, with the same middleware, after moving an
// access_token query parameter into the header. It is never open.
func (s *Server) streamRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/stream", Public: true, Summary: "Live status changes as Server-Sent Events (token in Authorization or access_token=)", handler: s.liveStream},
	}
}

func (s *Server) liveStream(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if tokens, ok := q["access_token"]; ok {
		if r.Header.Get("Authorization") != "" {
			return invalid("access_token", "send the token in the Authorization header or in access_token, not both")
		}
		if len(tokens) != 1 {
			return invalid("access_token", "give it once")
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+tokens[0])
	}
	var err error
	auth.Authenticate(s.opts.Tokens, s.opts.Keys, s.log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err = s.serveStream(w, r, q)
	})).ServeHTTP(w, r)
	return err
}

// streamFilter reads status= and source=; each may repeat or hold a
// comma-separated list.
func streamFilter(q map[string][]string) (stream.Filter, error) {
	var f stream.Filter
	for name := range q {
		switch name {
		case "status", "source", "access_token":
		default:
			return f, invalid(name, "unknown parameter (the stream takes status, source and access_token)")
		}
	}
	for _, v := range splitList(q["status"]) {
		st, err := webhook.ParseStatus(v)
		if err != nil {
			return f, invalid("status", "%q is not one of pending, success, failed, permanent_failure", v)
		}
		f.Statuses = append(f.Statuses, st)
	}
	for _, v := range splitList(q["source"]) {
		if err := catalog.ValidateName(v); err != nil {
			return f, invalid("source", "%q is not a source name", v)
		}
		f.Sources = append(f.Sources, v)
	}
	return f, nil
}

// splitList flattens repeated and comma-separated values, dropping empty
// ones.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, q map[string][]string) error {
	filter, err := streamFilter(q)
	if err != nil {
		return err
	}
	if s.opts.Hub == nil {
		return errors.New("live stream: no hub configured")
	}
	sub := s.opts.Hub.Subscribe(filter)
	defer sub.Close()
	p, _ := auth.PrincipalFrom(r.Context())
	s.log.Debug("stream opened", "user", p.Username, "statuses", filter.Statuses, "sources", filter.Sources)
	// Once ServeSSE has begun, the 200 and the headers are gone: its errors
	// (client gone, fell behind) can only be logged.
	switch err := stream.ServeSSE(w, r, sub, s.opts.Heartbeat); {
	case errors.Is(err, stream.ErrDropped):
		s.log.Info("stream client fell behind and was dropped", "user", p.Username)
	case err != nil:
		s.log.Debug("stream ended", "user", p.Username, "err", err)
	}
	return nil
}
