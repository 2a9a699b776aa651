package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/api"
)

// TestOpenAPICoversRoutes keeps /api/openapi.json true to the route table:
// every route is documented with its summary, path parameters, a 401 when
// it needs credentials and a 403 when it needs the admin role; the
// document has no operation the table lacks; the open routes, and only
// they, are documented without bearer security; every $ref resolves.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	ta := setup(t, nil, nil)
	r := ta.call(t, request{method: "GET", path: "/api/openapi.json"}) // no token: public
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/openapi.json: %d %v", r.status, r.header)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", v)
	}
	if sec, _ := json.Marshal(doc["security"]); string(sec) != `[{"bearerAuth":[]}]` {
		t.Errorf("global security = %s, want bearerAuth", sec)
	}
	checkRefs(t, doc, doc)

	paths, _ := doc["paths"].(map[string]any)
	documented := map[string]bool{}
	for path, item := range paths {
		for method := range item.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	wildcard := regexp.MustCompile(`\{(\w+)\}`)
	for _, rt := range api.New(api.Options{}).Routes() {
		key := rt.Method + " " + rt.Pattern
		if !documented[key] {
			t.Errorf("route %s is not in the OpenAPI document", key)
			continue
		}
		delete(documented, key)
		op := paths[rt.Pattern].(map[string]any)[strings.ToLower(rt.Method)].(map[string]any)
		if op["summary"] != rt.Summary {
			t.Errorf("%s: summary %q in the document, %q in the table", key, op["summary"], rt.Summary)
		}
		responses, _ := op["responses"].(map[string]any)
		security, explicit := op["security"].([]any)
		switch {
		case openRoutes[key]:
			if !explicit || len(security) != 0 {
				t.Errorf("%s is open but its security is %v, want []", key, op["security"])
			}
		case explicit && !slices.ContainsFunc(security, func(s any) bool { _, ok := s.(map[string]any)["bearerAuth"]; return ok }):
			t.Errorf("%s needs credentials but its security %v lacks bearerAuth", key, security)
		case responses["401"] == nil:
			t.Errorf("%s needs credentials but documents no 401", key)
		}
		if rt.Write && responses["403"] == nil {
			t.Errorf("%s needs the admin role but documents no 403", key)
		}
		var params []string
		for _, p := range asList(op["parameters"]) {
			p = resolve(t, doc, p)
			if p["in"] == "path" {
				params = append(params, p["name"].(string))
			}
		}
		for _, m := range wildcard.FindAllStringSubmatch(rt.Pattern, -1) {
			if !slices.Contains(params, m[1]) {
				t.Errorf("%s: path parameter %s is not documented", key, m[1])
			}
		}
	}
	for key := range documented {
		t.Errorf("the OpenAPI document has %s, which is not a route", key)
	}
}

// asList returns a JSON array of objects (nil for none).
func asList(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	return out
}

// resolve follows a $ref.
func resolve(t *testing.T, doc, v map[string]any) map[string]any {
	t.Helper()
	ref, ok := v["$ref"].(string)
	if !ok {
		return v
	}
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok || m[part] == nil {
			t.Fatalf("$ref %s does not resolve", ref)
		}
		cur = m[part]
	}
	return cur.(map[string]any)
}

// checkRefs fails for every $ref under v that does not resolve.
func checkRefs(t *testing.T, doc map[string]any, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["$ref"]; ok {
			resolve(t, doc, x)
		}
		for _, c := range x {
			checkRefs(t, doc, c)
		}
	case []any:
		for _, c := range x {
			checkRefs(t, doc, c)
		}
	}
}
