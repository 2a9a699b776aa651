package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.0 description of every route in the
// table. It is written by hand, so that it can say what the code cannot
// (why, which error when); TestOpenAPICoversRoutes keeps it and the route
// table in step.
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *Server) docRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/openapi.json", Public: true, Summary: "The OpenAPI 3 document of this API", handler: s.openAPI},
	}
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPIDocument) // the client may be gone; nothing to do
	return nil
}
