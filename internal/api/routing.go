package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hookd/hookd/internal/expr"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/webhook"
)

// The two routing calls change nothing, so any signed-in user may make
// them: they answer what hookd would do with an event, using the live
// catalog's destinations and compiled programs.
func (s *Server) routingRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/destinations/test-filter", Summary: "Which destinations would receive an event, and why the others would not", handler: s.testFilter},
		{Method: "POST", Pattern: "/api/destinations/try-transform", Summary: "Run a transform on a payload and show the request it makes", handler: s.tryTransform},
	}
}

// FilterTestRequest is the body of POST /api/destinations/test-filter: an
// event as ingest would see it.
type FilterTestRequest struct {
	// Source, when empty, is not checked: every destination is taken as
	// subscribed to it.
	Source string `json:"source"`
	Type   string `json:"type"`
	// Headers are the event's headers (names in any case).
	Headers map[string]string `json:"headers"`
	// Payload is the body as JSON; absent or null when the body would not
	// be JSON.
	Payload json.RawMessage `json:"payload"`
}

// FilterTestResult says whether one destination would receive the event.
type FilterTestResult struct {
	Name     string `json:"name"`
	Receives bool   `json:"receives"`
	// Reason is empty when it receives; otherwise
	// not_subscribed_to_source, event_type_not_wanted, filter_false,
	// filter_error or filter_timeout.
	Reason string `json:"reason,omitempty"`
	// Error is the filter's error, for filter_error and filter_timeout.
	Error string `json:"error,omitempty"`
	// Filter is the destination's filter, empty when it has none.
	Filter string `json:"filter,omitempty"`
}

// FilterTestResponse lists every destination, by name.
type FilterTestResponse struct {
	Items []FilterTestResult `json:"items"`
}

func (s *Server) testFilter(w http.ResponseWriter, r *http.Request) error {
	var req FilterTestRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	payload, err := decodePayload(req.Payload)
	if err != nil {
		return err
	}
	ev := route.Event{Source: req.Source, Type: req.Type, Headers: req.Headers}
	var input map[string]any
	// One budget for all the filters, as at ingest.
	ctx, cancel := context.WithTimeout(r.Context(), route.EventFilterBudget)
	defer cancel()
	out := FilterTestResponse{Items: []FilterTestResult{}}
	for _, d := range s.opts.Catalog.Destinations() {
		res := FilterTestResult{Name: d.Name, Filter: d.Filter}
		switch {
		case req.Source != "" && !subscribed(d, req.Source):
			res.Reason = route.ReasonSource
		case !typeWanted(d, req.Type):
			res.Reason = route.ReasonEventType
		case d.Filter != "":
			f, err := s.filterOf(d)
			matched := false
			if err == nil {
				if input == nil {
					input = route.FilterInput(ev, payload)
				}
				matched, err = f.Match(ctx, input)
			}
			res.Reason = route.FilterReason(matched, err)
			if err != nil {
				res.Error = err.Error()
			}
		}
		res.Receives = res.Reason == route.ReasonReceives
		out.Items = append(out.Items, res)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// subscribed reports whether d takes events of source.
func subscribed(d webhook.Destination, source string) bool {
	for _, s := range d.Sources {
		if s == source || s == "*" {
			return true
		}
	}
	return false
}

// typeWanted reports whether d takes events of type eventType.
func typeWanted(d webhook.Destination, eventType string) bool {
	if len(d.EventTypes) == 0 {
		return true
	}
	for _, p := range d.EventTypes {
		if webhook.MatchEventType(p, eventType) {
			return true
		}
	}
	return false
}

// filterOf is d's compiled filter, from the catalog when it keeps them.
func (s *Server) filterOf(d webhook.Destination) (*route.Filter, error) {
	if c, ok := s.opts.Catalog.(interface{ Filter(string) *route.Filter }); ok {
		if f := c.Filter(d.Name); f != nil && f.Source() == d.Filter {
			return f, nil
		}
	}
	return route.CompileFilter(d.Filter)
}

// TransformTryRequest is the body of POST /api/destinations/try-transform.
type TransformTryRequest struct {
	// Destination names a destination whose URL, extra headers and (unless
	// Transform is given) transform are used.
	Destination string `json:"destination"`
	// Transform is a jq program to try instead of the destination's.
	Transform string `json:"transform"`
	// Payload is the event's body, as JSON.
	Payload json.RawMessage `json:"payload"`
	// Headers are the outbound request's headers as the transform sees
	// them; default: the destination's extra headers and Content-Type
	// application/json.
	Headers map[string]string `json:"headers"`
	Type    string            `json:"type"`
	Source  string            `json:"source"`
}

// TransformTryResponse is the request the transform makes, before
// hookd's own headers (webhook-id, webhook-timestamp, webhook-signature,
// User-Agent) are added.
type TransformTryResponse struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// hiddenValue replaces a destination's header values for viewers, who
// may try its transform but not read its credentials.
const hiddenValue = "(hidden)"

func (s *Server) tryTransform(w http.ResponseWriter, r *http.Request) error {
	var req TransformTryRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := decodePayload(req.Payload); err != nil {
		return err
	}
	in := route.TransformInput{
		Request: route.Request{Method: http.MethodPost, URL: "https://receiver.example/", Body: []byte(req.Payload)},
		Type:    req.Type, Source: req.Source, EventID: "evt_example",
	}
	if len(in.Body) == 0 {
		in.Body = []byte("null")
	}
	src := req.Transform
	headers := map[string]string{}
	if req.Destination != "" {
		d, ok := s.opts.Catalog.Destination(req.Destination)
		if !ok {
			return fmt.Errorf("destination %q: %w", req.Destination, webhook.ErrNotFound)
		}
		in.URL = d.URL
		admin := isAdmin(r)
		for k, v := range d.Headers {
			if !admin {
				v = hiddenValue
			}
			headers[k] = v
		}
		if strings.TrimSpace(src) == "" {
			if d.Transform == "" {
				return &webhook.FieldError{Field: "transform", Msg: fmt.Sprintf("destination %q has no transform; give one to try", d.Name)}
			}
			src = d.Transform
		}
	}
	if strings.TrimSpace(src) == "" {
		return &webhook.FieldError{Field: "transform", Msg: "is required (or a destination that has one)"}
	}
	headers["Content-Type"] = "application/json"
	if req.Headers != nil {
		headers = req.Headers
	}
	in.Headers = headers
	t, err := route.CompileTransform(src)
	if err != nil {
		return &webhook.FieldError{Field: "transform", Msg: err.Error()}
	}
	out, err := t.Apply(r.Context(), in)
	if err != nil {
		var te *route.Error
		if errors.As(err, &te) {
			return &httpx.Error{Status: http.StatusBadRequest, Code: "transform_error", Message: err.Error(), Err: err}
		}
		return err
	}
	resp := TransformTryResponse{Method: out.Method, URL: out.URL, Headers: out.Headers, Body: string(out.Body)}
	if resp.Headers == nil {
		resp.Headers = map[string]string{}
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// decodePayload parses a request's payload as the programs read it,
// large integers kept exact; absent is null.
func decodePayload(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	v, err := expr.Decode(raw)
	if err != nil {
		return nil, &webhook.FieldError{Field: "payload", Msg: "must be JSON"}
	}
	return v, nil
}
