package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/catalog"
	"github.com/hookd/hookd/internal/httpx"
	"github.com/hookd/hookd/internal/webhook"
)

// Sources and destinations have two origins (catalog.Origin): those
// declared in the configuration file are shown with origin "file" and are
// read-only here (409 read_only: change the file and restart), and those
// created through this API are stored in the database (origin "api") and
// take effect at once in this process, because the catalog swaps its
// snapshot on every change. GET /api/sources (the list with counts) lives
// in webhooks.go.
func (s *Server) catalogRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/sources", Write: true, Summary: "Create a source", handler: s.createSource},
		{Method: "GET", Pattern: "/api/sources/{name}", Summary: "One source with its event counts", handler: s.getSource},
		{Method: "PATCH", Pattern: "/api/sources/{name}", Write: true, Summary: "Change the fields given of an API-managed source", handler: s.patchSource},
		{Method: "DELETE", Pattern: "/api/sources/{name}", Write: true, Summary: "Delete an API-managed source no destination subscribes to", handler: s.deleteSource},
		{Method: "GET", Pattern: "/api/destinations", Summary: "Destinations with their health since this process started", handler: s.listDestinations},
		{Method: "POST", Pattern: "/api/destinations", Write: true, Summary: "Create a destination (its signing secret is generated when absent)", handler: s.createDestination},
		{Method: "GET", Pattern: "/api/destinations/{name}", Summary: "One destination", handler: s.getDestination},
		{Method: "PATCH", Pattern: "/api/destinations/{name}", Write: true, Summary: "Change the fields given of an API-managed destination", handler: s.patchDestination},
		{Method: "DELETE", Pattern: "/api/destinations/{name}", Write: true, Summary: "Delete an API-managed destination", handler: s.deleteDestination},
		{Method: "POST", Pattern: "/api/destinations/{name}/rotate-secret", Write: true, Summary: "Start signing with a new secret, the current one signing too for a grace period", handler: s.rotateSecret},
	}
}

// VerifyView is a source's verification as shown: the secret only to
// admins. Fields a scheme does not use are omitted.
type VerifyView struct {
	// Type is one of none, github, stripe, shopify, slack,
	// standard-webhooks, hmac, token, basic.
	Type      string   `json:"type"`
	Secret    string   `json:"secret,omitempty"`
	Header    string   `json:"header,omitempty"`
	Query     string   `json:"query,omitempty"`
	Algorithm string   `json:"algorithm,omitempty"`
	Encoding  string   `json:"encoding,omitempty"`
	Prefix    string   `json:"prefix,omitempty"`
	Username  string   `json:"username,omitempty"`
	Tolerance string   `json:"tolerance,omitempty"`
	AllowIPs  []string `json:"allow_ips,omitempty"`
}

// SourceDetail is one source as GET /api/sources/{name} shows it.
type SourceDetail struct {
	Name         string                   `json:"name"`
	Origin       catalog.Origin           `json:"origin"`
	MaxBodyBytes int64                    `json:"max_body_bytes"`
	RateLimit    float64                  `json:"rate_limit"`
	RateBurst    int                      `json:"rate_burst"`
	Verify       VerifyView               `json:"verify"`
	Counts       map[webhook.Status]int64 `json:"counts"`
	Total        int64                    `json:"total"`
}

// VerifyRequest sets a source's whole verification. A nil Secret keeps the
// current one when Type does not change.
type VerifyRequest struct {
	Type      string   `json:"type"`
	Secret    *string  `json:"secret"`
	Header    string   `json:"header"`
	Query     string   `json:"query"`
	Algorithm string   `json:"algorithm"`
	Encoding  string   `json:"encoding"`
	Prefix    string   `json:"prefix"`
	Username  string   `json:"username"`
	Tolerance string   `json:"tolerance"`
	AllowIPs  []string `json:"allow_ips"`
}

// SourceRequest is the body of POST /api/sources.
type SourceRequest struct {
	Name string `json:"name"`
	// MaxBodyBytes caps request bodies; 0 means the default, 1 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// Verify defaults to none.
	Verify *VerifyRequest `json:"verify"`
	// RateLimit caps accepted requests per second; 0 means no limit.
	RateLimit float64 `json:"rate_limit"`
	RateBurst int     `json:"rate_burst"`
}

// SourcePatch is the body of PATCH /api/sources/{name}: absent fields stay
// as they are.
type SourcePatch struct {
	// Name may be given but not changed.
	Name         *string        `json:"name"`
	MaxBodyBytes *int64         `json:"max_body_bytes"`
	Verify       *VerifyRequest `json:"verify"`
	RateLimit    *float64       `json:"rate_limit"`
	RateBurst    *int           `json:"rate_burst"`
}

// DestinationView is a destination as shown. Secret and header values are
// shown to admins only (header values often hold credentials).
type DestinationView struct {
	Name       string            `json:"name"`
	URL        string            `json:"url"`
	Sources    []string          `json:"sources"`
	EventTypes []string          `json:"event_types"`
	Headers    map[string]string `json:"headers"`
	Secret     string            `json:"secret,omitempty"`
	// Timeout is a Go duration such as "30s".
	Timeout     string  `json:"timeout"`
	MaxInFlight int     `json:"max_in_flight"`
	RateLimit   float64 `json:"rate_limit"`
	// PreviousSecret (admins only) still signs until PreviousSecretUntil.
	PreviousSecret      string     `json:"previous_secret,omitempty"`
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty"`
	// CACert and ClientCert are certificates (public); the client key is
	// never shown, only whether one is set.
	CACert          string         `json:"ca_cert,omitempty"`
	ClientCert      string         `json:"client_cert,omitempty"`
	ClientKeySet    bool           `json:"client_key_set"`
	FollowRedirects bool           `json:"follow_redirects"`
	Origin          catalog.Origin `json:"origin"`
	// Filter is the destination's filter (docs/routing.md). Transform
	// is shown to admins only, as it may hold credentials; others see
	// TransformSet.
	Filter       string `json:"filter,omitempty"`
	Transform    string `json:"transform,omitempty"`
	TransformSet bool   `json:"transform_set"`
	// Health counts this process's attempts since it started (not durable,
	// not shared between processes).
	Health *HealthView `json:"health,omitempty"`
	// Circuit is the circuit breaker, shared by every process (destinations_state.go).
	Circuit *CircuitView `json:"circuit,omitempty"`
	Retry   RetryView    `json:"retry"`
	// Adaptive is adaptive delivery in the answering process (retry.go).
	Adaptive *AdaptiveView `json:"adaptive,omitempty"`
	// Ordering is set when deliveries go one at a time per key (ordering.go).
	Ordering *OrderingView `json:"ordering,omitempty"`
}

// HealthView is a destination's recent outcomes.
type HealthView struct {
	Successes      int64      `json:"successes"`
	Failures       int64      `json:"failures"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
}

// DestinationRequest is the body of POST /api/destinations.
type DestinationRequest struct {
	Name       string            `json:"name"`
	URL        string            `json:"url"`
	Sources    []string          `json:"sources"`
	EventTypes []string          `json:"event_types"`
	Headers    map[string]string `json:"headers"`
	// Secret is a Standard Webhooks "whsec_" secret; generated when empty
	// and returned in the answer.
	Secret string `json:"secret"`
	// Timeout is a Go duration; default 30s.
	Timeout string `json:"timeout"`
	// MaxInFlight caps concurrent attempts; default 16.
	MaxInFlight int `json:"max_in_flight"`
	// RateLimit caps attempts per second; 0 means no limit.
	RateLimit float64 `json:"rate_limit"`
	// PreviousSecret signs too until PreviousSecretUntil (a rotation);
	// POST /api/destinations/{name}/rotate-secret sets both for you.
	PreviousSecret      string     `json:"previous_secret"`
	PreviousSecretUntil *time.Time `json:"previous_secret_until"`
	// CACert, ClientCert and ClientKey are PEM blocks (https only).
	CACert          string `json:"ca_cert"`
	ClientCert      string `json:"client_cert"`
	ClientKey       string `json:"client_key"`
	FollowRedirects bool   `json:"follow_redirects"`
	// Filter and Transform are jq programs (docs/routing.md); empty: none.
	Filter    string `json:"filter"`
	Transform string `json:"transform"`
	// Retry is the destination's own retry policy; absent: the global one.
	Retry *RetryView `json:"retry"`
	// Ordering, when present, delivers one at a time per key.
	Ordering *OrderingView `json:"ordering"`
}

// DestinationPatch is the body of PATCH /api/destinations/{name}: absent
// (or null) fields stay as they are; "secret": "" generates a new secret.
type DestinationPatch struct {
	Name        *string            `json:"name"`
	URL         *string            `json:"url"`
	Sources     *[]string          `json:"sources"`
	EventTypes  *[]string          `json:"event_types"`
	Headers     *map[string]string `json:"headers"`
	Secret      *string            `json:"secret"`
	Timeout     *string            `json:"timeout"`
	MaxInFlight *int               `json:"max_in_flight"`
	RateLimit   *float64           `json:"rate_limit"`
	// "ca_cert": "" removes it; "client_cert" and "client_key" go together.
	CACert          *string `json:"ca_cert"`
	ClientCert      *string `json:"client_cert"`
	ClientKey       *string `json:"client_key"`
	FollowRedirects *bool   `json:"follow_redirects"`
	// "filter": "" and "transform": "" remove them.
	Filter    *string `json:"filter"`
	Transform *string `json:"transform"`
	// Retry replaces the whole retry policy; {} returns to the global one.
	Retry *RetryView `json:"retry"`
	// Ordering replaces the ordering; {"enabled": false} turns it off.
	Ordering *OrderingView `json:"ordering"`
}

// RotateSecretRequest is the body of POST
// /api/destinations/{name}/rotate-secret.
type RotateSecretRequest struct {
	// Secret is the new "whsec_" secret; generated when empty.
	Secret string `json:"secret"`
	// Grace is how long the current secret keeps signing beside the new
	// one, a Go duration; default 24h, "0s" to stop at once, at most 720h.
	Grace string `json:"grace"`
}

// isAdmin reports whether the caller may see secrets.
func isAdmin(r *http.Request) bool {
	p, ok := auth.PrincipalFrom(r.Context())
	return ok && p.CanWrite()
}

// readOnly is the answer to a change of a file-declared entry.
func readOnly(kind, name string, err error) error {
	return &httpx.Error{
		Status: http.StatusConflict, Code: "read_only",
		Message: fmt.Sprintf("%s %q is read-only: it comes from the configuration file; change it there and restart", kind, name),
		Err:     err,
	}
}

// catalogError gives the catalog's errors for kind/name their API meaning.
func catalogError(kind, name string, err error) error {
	switch {
	case errors.Is(err, catalog.ErrReadOnly):
		return readOnly(kind, name, err)
	case errors.Is(err, webhook.ErrNotFound):
		return fmt.Errorf("%s %q: %w", kind, name, webhook.ErrNotFound)
	}
	return err
}

// pathName reads and checks the {name} path value.
func pathName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := catalog.ValidateName(name); err != nil {
		return "", invalid("name", "%q is not a valid name", name)
	}
	return name, nil
}

// unchangedName refuses a body that renames the entry.
func unchangedName(body *string, name string) error {
	if body != nil && *body != name {
		return invalid("name", "cannot be changed; create a new entry and delete this one")
	}
	return nil
}

func (s *Server) sourceDetail(r *http.Request, src webhook.Source) (SourceDetail, error) {
	v := SourceDetail{
		Name: src.Name, Origin: s.opts.Catalog.SourceOrigin(src.Name), MaxBodyBytes: src.MaxBodyBytes,
		RateLimit: src.RateLimit, RateBurst: src.RateBurst, Verify: verifyView(src.Verify, isAdmin(r)), Counts: map[webhook.Status]int64{},
	}
	for _, st := range []webhook.Status{webhook.StatusPending, webhook.StatusSuccess, webhook.StatusFailed, webhook.StatusPermanentFailure} {
		v.Counts[st] = 0
	}
	counts, err := s.opts.Store.EventCountBySource(r.Context())
	if err != nil {
		return v, err
	}
	for _, c := range counts {
		if c.Source != src.Name {
			continue
		}
		for st, n := range c.Counts {
			v.Counts[st] += n
			v.Total += n
		}
	}
	return v, nil
}

// verifyView shows v; the secret to admins only.
func verifyView(v webhook.Verify, admin bool) VerifyView {
	out := VerifyView{Type: v.Type, Header: v.Header, Query: v.Query, Algorithm: v.Algorithm, Encoding: v.Encoding,
		Prefix: v.Prefix, Username: v.Username, AllowIPs: v.AllowIPs}
	if out.Type == webhook.VerifyNone {
		out.Type = "none"
	}
	if v.Tolerance > 0 {
		out.Tolerance = v.Tolerance.String()
	}
	if admin {
		out.Secret = v.Secret
	}
	return out
}

// applyVerify sets src's verification from req, keeping the secret when
// req has none and the scheme stays the same.
func applyVerify(src *webhook.Source, req *VerifyRequest) error {
	if req == nil {
		return nil
	}
	if req.Type == "" {
		return invalid("verify.type", "is required when verify is given (%s)", strings.Join(webhook.VerifyTypes, ", "))
	}
	typ := req.Type
	if typ == "none" {
		typ = webhook.VerifyNone
	}
	v := webhook.Verify{Type: typ, Header: req.Header, Query: req.Query, Algorithm: req.Algorithm, Encoding: req.Encoding,
		Prefix: req.Prefix, Username: req.Username, AllowIPs: req.AllowIPs}
	switch {
	case req.Secret != nil:
		v.Secret = *req.Secret
	case typ == src.Verify.Type:
		v.Secret = src.Verify.Secret // same scheme: keep the secret
	}
	if req.Tolerance != "" {
		d, err := time.ParseDuration(req.Tolerance)
		if err != nil || d <= 0 {
			return invalid("verify.tolerance", "%q is not a duration such as 5m", req.Tolerance)
		}
		v.Tolerance = d
	}
	src.Verify = v
	return nil
}

func (s *Server) createSource(w http.ResponseWriter, r *http.Request) error {
	var req SourceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	src := webhook.Source{Name: req.Name, MaxBodyBytes: req.MaxBodyBytes, RateLimit: req.RateLimit, RateBurst: req.RateBurst}
	if err := applyVerify(&src, req.Verify); err != nil {
		return err
	}
	src, err := s.opts.Catalog.PutSource(r.Context(), src, true)
	if err != nil {
		if errors.Is(err, webhook.ErrConflict) && !errors.Is(err, catalog.ErrReadOnly) {
			return fmt.Errorf("%w: name: source %q already exists", webhook.ErrConflict, req.Name)
		}
		return catalogError("source", req.Name, err)
	}
	s.log.Info("source created", "source", src.Name)
	v, err := s.sourceDetail(r, src)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/sources/"+url.PathEscape(src.Name))
	httpx.WriteJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) getSource(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	src, ok := s.opts.Catalog.Source(name)
	if !ok {
		return fmt.Errorf("source %q: %w", name, webhook.ErrNotFound)
	}
	v, err := s.sourceDetail(r, src)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) patchSource(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	src, ok := s.opts.Catalog.Source(name)
	if !ok {
		return fmt.Errorf("source %q: %w", name, webhook.ErrNotFound)
	}
	if s.opts.Catalog.SourceOrigin(name) == catalog.OriginFile {
		return readOnly("source", name, catalog.ErrReadOnly)
	}
	var req SourcePatch
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := unchangedName(req.Name, name); err != nil {
		return err
	}
	if req.MaxBodyBytes != nil {
		if *req.MaxBodyBytes <= 0 {
			return invalid("max_body_bytes", "must be between 1 and 67108864")
		}
		src.MaxBodyBytes = *req.MaxBodyBytes
	}
	if req.RateLimit != nil {
		src.RateLimit = *req.RateLimit
	}
	if req.RateBurst != nil {
		src.RateBurst = *req.RateBurst
	}
	if err := applyVerify(&src, req.Verify); err != nil {
		return err
	}
	src, err = s.opts.Catalog.PutSource(r.Context(), src, false)
	if err != nil {
		return catalogError("source", name, err)
	}
	s.log.Info("source changed", "source", name)
	v, err := s.sourceDetail(r, src)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deleteSource(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	if err := s.opts.Catalog.DeleteSource(r.Context(), name); err != nil {
		return catalogError("source", name, err)
	}
	s.log.Info("source deleted", "source", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) destinationView(r *http.Request, d webhook.Destination) DestinationView {
	admin := isAdmin(r)
	v := DestinationView{
		Name: d.Name, URL: d.URL, Sources: nonNil(d.Sources), EventTypes: nonNil(d.EventTypes),
		Headers: map[string]string{}, Timeout: d.Timeout.String(), MaxInFlight: d.MaxInFlight,
		RateLimit: d.RateLimit, CACert: d.CACert, ClientCert: d.ClientCert, ClientKeySet: d.ClientKey != "",
		FollowRedirects: d.FollowRedirects, Origin: s.opts.Catalog.DestinationOrigin(d.Name),
		Ordering: orderingView(d.Ordering),
	}
	v.Filter, v.TransformSet = d.Filter, d.Transform != ""
	if admin {
		v.Transform = d.Transform
	}
	if !d.PreviousSecretUntil.IsZero() {
		until := d.PreviousSecretUntil
		v.PreviousSecretUntil = &until
	}
	for k, val := range d.Headers {
		if !admin {
			val = "[redacted]"
		}
		v.Headers[k] = val
	}
	if admin {
		v.Secret, v.PreviousSecret = d.Secret, d.PreviousSecret
	}
	if s.opts.Stats != nil {
		h, _ := s.opts.Stats.Destination(d.Name)
		hv := &HealthView{Successes: h.Successes, Failures: h.Failures, LastStatusCode: h.LastStatusCode, LastError: h.LastError}
		if !h.LastAttemptAt.IsZero() {
			at := h.LastAttemptAt
			hv.LastAttemptAt = &at
		}
		v.Health = hv
	}
	v.Circuit = s.circuitView(r, d.Name)
	v.Retry = retryView(d.Retry)
	if s.opts.Adaptive != nil {
		a := s.opts.Adaptive(d)
		v.Adaptive = &a
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) listDestinations(w http.ResponseWriter, r *http.Request) error {
	all := s.opts.Catalog.Destinations()
	items := make([]DestinationView, 0, len(all))
	for _, d := range all {
		items = append(items, s.destinationView(r, d))
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) getDestination(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	d, ok := s.opts.Catalog.Destination(name)
	if !ok {
		return fmt.Errorf("destination %q: %w", name, webhook.ErrNotFound)
	}
	httpx.WriteJSON(w, http.StatusOK, s.destinationView(r, d))
	return nil
}

// parseTimeout reads a destination timeout; "" means the default.
func parseTimeout(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, invalid("timeout", "%q is not a duration between 1ms and 10m, such as 30s", v)
	}
	return d, nil
}

func (s *Server) createDestination(w http.ResponseWriter, r *http.Request) error {
	var req DestinationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	timeout, err := parseTimeout(req.Timeout)
	if err != nil {
		return err
	}
	d := webhook.Destination{
		Name: req.Name, URL: req.URL, Sources: req.Sources, EventTypes: req.EventTypes, Headers: req.Headers,
		Secret: req.Secret, Timeout: timeout, MaxInFlight: req.MaxInFlight, RateLimit: req.RateLimit,
		PreviousSecret: req.PreviousSecret, CACert: req.CACert, ClientCert: req.ClientCert, ClientKey: req.ClientKey,
		FollowRedirects: req.FollowRedirects, Ordering: orderingSetting(req.Ordering),
	}
	d.Filter, d.Transform = req.Filter, req.Transform
	if req.PreviousSecretUntil != nil {
		d.PreviousSecretUntil = req.PreviousSecretUntil.UTC()
	}
	if d.Retry, err = retrySettings(req.Retry); err != nil {
		return err
	}
	d, err = s.opts.Catalog.PutDestination(r.Context(), d, true)
	if err != nil {
		if errors.Is(err, webhook.ErrConflict) && !errors.Is(err, catalog.ErrReadOnly) {
			return fmt.Errorf("%w: name: destination %q already exists", webhook.ErrConflict, req.Name)
		}
		return catalogError("destination", req.Name, err)
	}
	s.log.Info("destination created", "destination", d.Name)
	w.Header().Set("Location", "/api/destinations/"+url.PathEscape(d.Name))
	httpx.WriteJSON(w, http.StatusCreated, s.destinationView(r, d))
	return nil
}

func (s *Server) patchDestination(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	d, ok := s.opts.Catalog.Destination(name)
	if !ok {
		return fmt.Errorf("destination %q: %w", name, webhook.ErrNotFound)
	}
	if s.opts.Catalog.DestinationOrigin(name) == catalog.OriginFile {
		return readOnly("destination", name, catalog.ErrReadOnly)
	}
	var req DestinationPatch
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := unchangedName(req.Name, name); err != nil {
		return err
	}
	// The snapshot's slices and map are shared: replace, never modify.
	if req.URL != nil {
		d.URL = *req.URL
	}
	if req.Sources != nil {
		d.Sources = *req.Sources
	}
	if req.EventTypes != nil {
		d.EventTypes = *req.EventTypes
	}
	if req.Headers != nil {
		d.Headers = *req.Headers
	}
	if req.Secret != nil {
		d.Secret = *req.Secret // "" makes the catalog generate a new one
	}
	if req.Timeout != nil {
		if *req.Timeout == "" {
			return invalid("timeout", "must not be empty; omit it to keep the current one")
		}
		if d.Timeout, err = parseTimeout(*req.Timeout); err != nil {
			return err
		}
	}
	if req.MaxInFlight != nil {
		if *req.MaxInFlight <= 0 {
			return invalid("max_in_flight", "must be between 1 and 1000")
		}
		d.MaxInFlight = *req.MaxInFlight
	}
	if req.RateLimit != nil {
		d.RateLimit = *req.RateLimit
	}
	if req.CACert != nil {
		d.CACert = *req.CACert
	}
	if req.ClientCert != nil {
		d.ClientCert = *req.ClientCert
	}
	if req.ClientKey != nil {
		d.ClientKey = *req.ClientKey
	}
	if req.FollowRedirects != nil {
		d.FollowRedirects = *req.FollowRedirects
	}
	if req.Filter != nil {
		d.Filter = *req.Filter
	}
	if req.Transform != nil {
		d.Transform = *req.Transform
	}
	if req.Ordering != nil {
		d.Ordering = orderingSetting(req.Ordering)
	}
	if req.Retry != nil {
		if d.Retry, err = retrySettings(req.Retry); err != nil {
			return err
		}
	}
	d, err = s.opts.Catalog.PutDestination(r.Context(), d, false)
	if err != nil {
		return catalogError("destination", name, err)
	}
	s.log.Info("destination changed", "destination", name)
	httpx.WriteJSON(w, http.StatusOK, s.destinationView(r, d))
	return nil
}

// maxRotationGrace bounds how long an old secret may keep signing.
const maxRotationGrace = 30 * 24 * time.Hour

// rotateSecret moves the current secret to previous_secret, signing beside
// the new one for the grace period, so receivers can switch at their pace.
func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	d, ok := s.opts.Catalog.Destination(name)
	if !ok {
		return fmt.Errorf("destination %q: %w", name, webhook.ErrNotFound)
	}
	if s.opts.Catalog.DestinationOrigin(name) == catalog.OriginFile {
		return readOnly("destination", name, catalog.ErrReadOnly)
	}
	var req RotateSecretRequest
	if r.ContentLength != 0 { // no body: a generated secret, the default grace
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	grace := 24 * time.Hour
	if req.Grace != "" {
		if grace, err = time.ParseDuration(req.Grace); err != nil || grace < 0 || grace > maxRotationGrace {
			return invalid("grace", "%q is not a duration between 0s and 720h", req.Grace)
		}
	}
	if req.Secret == d.Secret && req.Secret != "" {
		return invalid("secret", "is the current secret")
	}
	d.PreviousSecret, d.PreviousSecretUntil = "", time.Time{}
	if grace > 0 {
		d.PreviousSecret, d.PreviousSecretUntil = d.Secret, time.Now().UTC().Add(grace)
	}
	d.Secret = req.Secret // "" makes the catalog generate one
	d, err = s.opts.Catalog.PutDestination(r.Context(), d, false)
	if err != nil {
		return catalogError("destination", name, err)
	}
	s.log.Info("destination secret rotated", "destination", name, "grace", grace)
	httpx.WriteJSON(w, http.StatusOK, s.destinationView(r, d))
	return nil
}

func (s *Server) deleteDestination(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	if err := s.opts.Catalog.DeleteDestination(r.Context(), name); err != nil {
		return catalogError("destination", name, err)
	}
	s.log.Info("destination deleted", "destination", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
