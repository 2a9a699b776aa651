package api_test

import (
	"bytes"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/api"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/signing"
	"github.com/hookd/hookd/internal/webhook"
)

type destinationList struct {
	Items []api.DestinationView `json:"items"`
}

// TestCatalogLifecycle creates a source and a destination through the API
// and sees a webhook delivered through them at once, changes and deletes
// them, and checks what viewers may see.
func TestCatalogLifecycle(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, nil, nil)
	admin, viewer := ta.admin(t), ta.viewer(t)
	call := func(method, path string, body any) response {
		return ta.call(t, request{method: method, path: path, token: admin, body: body})
	}

	// Unknown until created: ingest says so.
	wantError(t, ta.call(t, request{method: "POST", path: "/webhook/shop", body: "{}"}), 404, "unknown_source")

	src := want[api.SourceDetail](t, call("POST", "/api/sources", map[string]any{"name": "shop", "verify": map[string]string{"type": "none"}}), http.StatusCreated, "create source")
	if src.Name != "shop" || src.Origin != "api" || src.Verify.Type != "none" || src.MaxBodyBytes != 1<<20 {
		t.Errorf("created source = %+v", src)
	}
	r := call("POST", "/api/destinations", map[string]any{"name": "shop-orders", "url": rcv.URL() + "/in", "sources": []string{"shop"}, "headers": map[string]string{"X-Team": "core"}})
	dest := want[api.DestinationView](t, r, http.StatusCreated, "create destination")
	if r.header.Get("Location") != "/api/destinations/shop-orders" {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	if !strings.HasPrefix(dest.Secret, "whsec_") || dest.Timeout != "30s" || dest.MaxInFlight != 16 || dest.Origin != "api" || dest.Headers["X-Team"] != "core" {
		t.Errorf("created destination = %+v; want a generated secret and defaults", dest)
	}

	// Live at once: a webhook to the new source reaches the new destination,
	// signed with the secret the API returned.
	body := []byte(`{"type":"order.created"}`)
	ta.ingest(t, "shop", body, nil)
	waitFor(t, "the delivery through the new destination", func() bool { return len(rcv.Arrivals()) == 1 })
	a := rcv.Arrivals()[0]
	ts, _ := strconv.ParseInt(a.Header.Get("webhook-timestamp"), 10, 64)
	signer, err := signing.NewSigner(dest.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Body, body) || a.Header.Get("webhook-signature") != signer.Sign(a.WebhookID, time.Unix(ts, 0), body) || a.Header.Get("X-Team") != "core" {
		t.Errorf("arrival: body %q, signature %q, X-Team %q; want the body signed with the returned secret", a.Body, a.Header.Get("webhook-signature"), a.Header.Get("X-Team"))
	}

	// PATCH changes only what it names.
	patched := want[api.DestinationView](t, call("PATCH", "/api/destinations/shop-orders", map[string]any{"timeout": "5s", "event_types": []string{"order.*"}}), http.StatusOK, "patch")
	if patched.Timeout != "5s" || len(patched.EventTypes) != 1 || patched.URL != dest.URL || patched.Secret != dest.Secret || patched.Headers["X-Team"] != "core" {
		t.Errorf("patched = %+v; want timeout and event types changed, the rest kept", patched)
	}
	srcPatched := want[api.SourceDetail](t, call("PATCH", "/api/sources/shop", map[string]any{"verify": map[string]string{"type": "github", "secret": "s3cret"}}), http.StatusOK, "patch source")
	if !reflect.DeepEqual(srcPatched.Verify, api.VerifyView{Type: "github", Secret: "s3cret"}) || srcPatched.Total != 1 {
		t.Errorf("patched source = %+v", srcPatched)
	}
	wantError(t, ta.call(t, request{method: "POST", path: "/webhook/shop", body: "{}"}), 401, "invalid_signature")

	// Viewers see neither secrets nor header values.
	vd := get[api.DestinationView](t, ta, "/api/destinations/shop-orders", viewer)
	vs := get[api.SourceDetail](t, ta, "/api/sources/shop", viewer)
	if vd.Secret != "" || vd.Headers["X-Team"] != "[redacted]" || vs.Verify.Secret != "" || vs.Verify.Type != "github" {
		t.Errorf("viewer sees destination %+v, source verify %+v", vd, vs.Verify)
	}
	// Health is counted just after the attempt is stored: wait for it.
	waitFor(t, "shop-orders to show one success", func() bool {
		list := get[destinationList](t, ta, "/api/destinations", admin)
		return len(list.Items) == 1 && list.Items[0].Health != nil && list.Items[0].Health.Successes == 1 &&
			list.Items[0].Health.LastStatusCode == 200 && list.Items[0].Health.LastAttemptAt != nil
	})

	// A source with a subscriber cannot go; in the right order both can.
	wantError(t, call("DELETE", "/api/sources/shop", nil), 409, "conflict", "shop-orders")
	if r := call("DELETE", "/api/destinations/shop-orders", nil); r.status != http.StatusNoContent {
		t.Fatalf("delete destination: %d %s", r.status, r)
	}
	if r := call("DELETE", "/api/sources/shop", nil); r.status != http.StatusNoContent {
		t.Fatalf("delete source: %d %s", r.status, r)
	}
	wantError(t, ta.call(t, request{method: "POST", path: "/webhook/shop", body: "{}"}), 404, "unknown_source")
	wantError(t, call("GET", "/api/sources/shop", nil), 404, "not_found")
	wantError(t, call("GET", "/api/destinations/shop-orders", nil), 404, "not_found")
	wantError(t, call("DELETE", "/api/destinations/shop-orders", nil), 404, "not_found")
}

// TestCatalogReadOnlyAndValidation checks that entries from the
// configuration file cannot be changed, and that every bad request is a
// 400 or 409 naming the problem and changes nothing.
func TestCatalogReadOnlyAndValidation(t *testing.T) {
	t.Parallel()
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{source("github")}
		cfg.Destinations = []webhook.Destination{destination("ci", "http://127.0.0.1:9/hooks", "github")}
	}, nil)
	admin := ta.admin(t)
	call := func(method, path string, body any) response {
		return ta.call(t, request{method: method, path: path, token: admin, body: body})
	}
	ci := get[api.DestinationView](t, ta, "/api/destinations/ci", admin)
	if ci.Origin != "file" || !strings.HasPrefix(ci.Secret, "whsec_") {
		t.Errorf("file destination = %+v", ci)
	}
	if got := get[api.SourceDetail](t, ta, "/api/sources/github", admin); got.Origin != "file" {
		t.Errorf("file source origin %q", got.Origin)
	}

	readOnly := []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/api/destinations/ci", map[string]any{"timeout": "1s"}},
		{"DELETE", "/api/destinations/ci", nil},
		{"POST", "/api/destinations", map[string]any{"name": "ci", "url": "http://127.0.0.1:9/", "sources": []string{"github"}}},
		{"PATCH", "/api/sources/github", map[string]any{"max_body_bytes": 10}},
		{"DELETE", "/api/sources/github", nil},
		{"POST", "/api/sources", map[string]any{"name": "github"}},
	}
	for _, ro := range readOnly {
		wantError(t, call(ro.method, ro.path, ro.body), 409, "read_only", "configuration file")
	}

	// An API destination to patch badly.
	want[api.DestinationView](t, call("POST", "/api/destinations", map[string]any{"name": "api-dest", "url": "https://example.com/hooks", "sources": []string{"github"}}), http.StatusCreated, "create")
	wantError(t, call("POST", "/api/destinations", map[string]any{"name": "api-dest", "url": "https://example.com/hooks", "sources": []string{"github"}}), 409, "conflict", "already exists")

	okDest := func(change map[string]any) map[string]any {
		d := map[string]any{"name": "new-dest", "url": "https://example.com/hooks", "sources": []string{"github"}}
		for k, v := range change {
			d[k] = v
		}
		return d
	}
	bad := []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/api/destinations", okDest(map[string]any{"url": "ftp://example.com/x"}), "url"},
		{"POST", "/api/destinations", okDest(map[string]any{"url": "/relative"}), "url"},
		{"POST", "/api/destinations", okDest(map[string]any{"name": "bad name"}), "name"},
		{"POST", "/api/destinations", okDest(map[string]any{"name": ""}), "name"},
		{"POST", "/api/destinations", okDest(map[string]any{"secret": "hunter2"}), "secret"},
		{"POST", "/api/destinations", okDest(map[string]any{"sources": []string{"github", "nosuch"}}), "sources[1]"},
		{"POST", "/api/destinations", okDest(map[string]any{"sources": []string{}}), "sources"},
		{"POST", "/api/destinations", okDest(map[string]any{"timeout": "soon"}), "timeout"},
		{"POST", "/api/destinations", okDest(map[string]any{"timeout": "1h"}), "timeout"},
		{"POST", "/api/destinations", okDest(map[string]any{"max_in_flight": -1}), "max_in_flight"},
		{"POST", "/api/destinations", okDest(map[string]any{"max_in_flight": "many"}), "max_in_flight"},
		{"POST", "/api/destinations", okDest(map[string]any{"headers": map[string]string{"Bad Header": "x"}}), "headers"},
		{"POST", "/api/destinations", okDest(map[string]any{"headers": map[string]string{"webhook-signature": "x"}}), "webhook-signature"},
		{"POST", "/api/destinations", okDest(map[string]any{"headers": map[string]string{"X-Ok": "a\r\nInjected: yes"}}), "X-Ok"},
		{"POST", "/api/destinations", okDest(map[string]any{"origin": "api"}), "origin"},
		{"POST", "/api/destinations", "{", "body"},
		{"POST", "/api/destinations", "[]", "body"},
		{"PATCH", "/api/destinations/api-dest", map[string]any{"url": "javascript:alert(1)"}, "url"},
		{"PATCH", "/api/destinations/api-dest", map[string]any{"name": "renamed"}, "name"},
		{"PATCH", "/api/destinations/api-dest", map[string]any{"sources": []string{"nosuch"}}, "sources[0]"},
		{"PATCH", "/api/destinations/api-dest", map[string]any{"timeout": ""}, "timeout"},
		{"PATCH", "/api/destinations/api-dest", map[string]any{"max_in_flight": 0}, "max_in_flight"},
		{"PATCH", "/api/destinations/api-dest", "not json", "body"},
		{"POST", "/api/sources", map[string]any{"name": "-dash"}, "name"},
		{"POST", "/api/sources", map[string]any{"name": "s", "verify": map[string]string{"type": "gitlab"}}, "verify.type"},
		{"POST", "/api/sources", map[string]any{"name": "s", "verify": map[string]string{"type": "github"}}, "verify.secret"},
		{"POST", "/api/sources", map[string]any{"name": "s", "verify": map[string]string{}}, "verify.type"},
		{"POST", "/api/sources", map[string]any{"name": "s", "max_body_bytes": -5}, "max_body_bytes"},
		{"GET", "/api/sources/bad%20name", nil, "name"},
	}
	for _, b := range bad {
		wantError(t, call(b.method, b.path, b.body), 400, "invalid", b.field)
	}

	// Nothing changed.
	list := get[destinationList](t, ta, "/api/destinations", admin)
	if len(list.Items) != 2 || list.Items[0].Name != "api-dest" || list.Items[1].Name != "ci" {
		t.Fatalf("destinations after rejected requests = %+v", list.Items)
	}
	apiDest := list.Items[0]
	if apiDest.URL != "https://example.com/hooks" || apiDest.Timeout != "30s" || apiDest.MaxInFlight != 16 || len(apiDest.Sources) != 1 {
		t.Errorf("api-dest changed by rejected requests: %+v", apiDest)
	}
	if got := get[api.DestinationView](t, ta, "/api/destinations/ci", admin); got.Timeout != ci.Timeout || got.Secret != ci.Secret {
		t.Errorf("file destination changed: %+v", got)
	}
	sources := get[struct{ Items []api.SourceView }](t, ta, "/api/sources", admin)
	if len(sources.Items) != 1 || sources.Items[0].Name != "github" || sources.Items[0].MaxBodyBytes != 1<<20 {
		t.Errorf("sources after rejected requests = %+v", sources.Items)
	}
}

// TestSecurityFieldsAndRotation: verification schemes, rate limits, TLS and
// redirect settings go through the API and come back as set (secrets and
// keys to admins only); rotate-secret keeps the old secret signing for the
// grace period.
func TestSecurityFieldsAndRotation(t *testing.T) {
	t.Parallel()
	ta := setup(t, nil, nil)
	admin, viewer := ta.admin(t), ta.viewer(t)
	call := func(method, path string, body any) response {
		return ta.call(t, request{method: method, path: path, token: admin, body: body})
	}
	src := want[api.SourceDetail](t, call("POST", "/api/sources", map[string]any{
		"name": "custom", "rate_limit": 5, "rate_burst": 10,
		"verify": map[string]any{"type": "hmac", "secret": "k", "header": "X-Sig", "encoding": "base64", "allow_ips": []string{"10.0.0.0/8"}},
	}), http.StatusCreated, "create source")
	wantVerify := api.VerifyView{Type: "hmac", Secret: "k", Header: "X-Sig", Encoding: "base64", AllowIPs: []string{"10.0.0.0/8"}}
	if !reflect.DeepEqual(src.Verify, wantVerify) || src.RateLimit != 5 || src.RateBurst != 10 {
		t.Errorf("created source = %+v", src)
	}
	asViewer := want[api.SourceDetail](t, ta.call(t, request{method: "GET", path: "/api/sources/custom", token: viewer}), http.StatusOK, "viewer")
	if asViewer.Verify.Secret != "" {
		t.Errorf("a viewer sees the verification secret")
	}
	// A PATCH of the verification without a secret keeps it (same type).
	patched := want[api.SourceDetail](t, call("PATCH", "/api/sources/custom", map[string]any{
		"rate_limit": 0, "rate_burst": 0, "verify": map[string]any{"type": "hmac", "header": "X-Other"},
	}), http.StatusOK, "patch source")
	if patched.Verify.Secret != "k" || patched.Verify.Header != "X-Other" || patched.RateLimit != 0 {
		t.Errorf("patched source = %+v", patched)
	}
	for _, b := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "b1", "verify": map[string]any{"type": "basic", "secret": "p"}}, "verify.username"},
		{map[string]any{"name": "b2", "verify": map[string]any{"type": "stripe", "secret": "p", "tolerance": "soon"}}, "verify.tolerance"},
		{map[string]any{"name": "b3", "verify": map[string]any{"type": "none", "allow_ips": []string{"nope"}}}, "verify.allow_ips[0]"},
		{map[string]any{"name": "b4", "rate_limit": -1}, "rate_limit"},
	} {
		wantError(t, call("POST", "/api/sources", b.body), 400, "invalid", b.field)
	}

	dest := want[api.DestinationView](t, call("POST", "/api/destinations", map[string]any{
		"name": "d", "url": "https://d.example.com/hook", "sources": []string{"custom"}, "rate_limit": 2.5, "follow_redirects": true,
	}), http.StatusCreated, "create destination")
	if dest.RateLimit != 2.5 || !dest.FollowRedirects || dest.ClientKeySet || dest.PreviousSecret != "" {
		t.Errorf("created destination = %+v", dest)
	}
	wantError(t, call("PATCH", "/api/destinations/d", map[string]any{"client_cert": "x"}), 400, "invalid", "client_key")

	before := time.Now()
	rotated := want[api.DestinationView](t, call("POST", "/api/destinations/d/rotate-secret", map[string]any{"grace": "1h"}), http.StatusOK, "rotate")
	if rotated.PreviousSecret != dest.Secret || rotated.Secret == dest.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") ||
		rotated.PreviousSecretUntil == nil || rotated.PreviousSecretUntil.Before(before.Add(59*time.Minute)) {
		t.Errorf("rotated = %+v (was secret %s)", rotated, dest.Secret)
	}
	// No body: a generated secret and the default grace; the secret before
	// is the one that keeps signing.
	again := want[api.DestinationView](t, ta.call(t, request{method: "POST", path: "/api/destinations/d/rotate-secret", token: admin}), http.StatusOK, "rotate again")
	if again.PreviousSecret != rotated.Secret || again.PreviousSecretUntil.Before(before.Add(23*time.Hour)) {
		t.Errorf("rotated again = %+v", again)
	}
	now := want[api.DestinationView](t, call("POST", "/api/destinations/d/rotate-secret", map[string]any{"grace": "0s"}), http.StatusOK, "rotate at once")
	if now.PreviousSecret != "" || now.PreviousSecretUntil != nil {
		t.Errorf("rotation without grace kept the old secret: %+v", now)
	}
	wantError(t, call("POST", "/api/destinations/d/rotate-secret", map[string]any{"grace": "1000h"}), 400, "invalid", "grace")
	wantError(t, ta.call(t, request{method: "POST", path: "/api/destinations/d/rotate-secret", token: viewer}), 403, "forbidden")
}
