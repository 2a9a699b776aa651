package web_test

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hookd/hookd/internal/web"
)

const indexHTML = `<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>`

// bigJS is large enough to be served gzipped.
var bigJS = "console.log('hookd');\n" + strings.Repeat("export const x = 'the dashboard';\n", 200)

func setup(t *testing.T) http.Handler {
	t.Helper()
	files := fstest.MapFS{
		"index.html":              {Data: []byte(indexHTML)},
		"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
		"assets/index-abc123.js":  {Data: []byte(bigJS)},
		"assets/index-def456.css": {Data: []byte("body{color:red}")},
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":"not_found"}`)
	})
	return web.Handler(web.Options{Files: files, NotFound: notFound})
}

func TestHandler(t *testing.T) {
	t.Parallel()
	h := setup(t)
	cases := []struct {
		name, method, path string
		status             int
		contentType        string
		cache              string
		bodyHas            string
	}{
		{"root is the app", "GET", "/", 200, "text/html; charset=utf-8", "no-cache", `<div id="root">`},
		{"index.html itself", "GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache", `<div id="root">`},
		{"a browser route gets the app", "GET", "/webhooks?status=failed&source=github&page=2", 200, "text/html; charset=utf-8", "no-cache", `<div id="root">`},
		{"a nested browser route", "GET", "/webhooks/evt_01M8HQRNBNC8DHDG1A16NV2J96", 200, "text/html; charset=utf-8", "no-cache", `<div id="root">`},
		{"a route with a dot", "GET", "/destinations/my.dest", 200, "text/html; charset=utf-8", "no-cache", `<div id="root">`},
		{"HEAD", "HEAD", "/sources", 200, "text/html; charset=utf-8", "no-cache", ""},
		{"hashed asset", "GET", "/assets/index-abc123.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "console.log('hookd')"},
		{"stylesheet", "GET", "/assets/index-def456.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", "color:red"},
		{"unhashed file", "GET", "/favicon.svg", 200, "image/svg+xml", "no-cache", "<svg"},
		{"missing asset is not the app", "GET", "/assets/index-old999.js", 404, "application/json", "", "not_found"},
		{"unknown api path stays JSON", "GET", "/api/nowhere", 404, "application/json", "", "not_found"},
		{"api root", "GET", "/api", 404, "application/json", "", "not_found"},
		{"ingest path", "GET", "/webhook/github", 404, "application/json", "", "not_found"},
		{"debug path", "GET", "/debug/nothing", 404, "application/json", "", "not_found"},
		{"other methods", "POST", "/webhooks", 404, "application/json", "", "not_found"},
		{"traversal is cleaned", "GET", "/assets/../../../../etc/passwd", 200, "text/html; charset=utf-8", "no-cache", `<div id="root">`},
		{"traversal into assets", "GET", "/x/../assets/index-abc123.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "console.log"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, "http://hookd.test/", nil)
			req.URL.Path, req.URL.RawQuery, _ = strings.Cut(tc.path, "?")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tc.status, rec.Body.String())
			}
			if got := rec.Header().Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			if !strings.Contains(rec.Body.String(), tc.bodyHas) {
				t.Errorf("body %q does not contain %q", rec.Body.String(), tc.bodyHas)
			}
			if tc.status == 200 {
				for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "ETag"} {
					if rec.Header().Get(h) == "" {
						t.Errorf("no %s header", h)
					}
				}
			}
		})
	}
}

func TestGzipAndETag(t *testing.T) {
	t.Parallel()
	h := setup(t)
	get := func(t *testing.T, header http.Header) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("GET", "/assets/index-abc123.js", nil)
		req.Header = header
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	cases := []struct {
		name           string
		acceptEncoding string
		gzipped        bool
	}{
		{"gzip", "gzip, deflate, br", true},
		{"gzip with weight", "br;q=1.0, gzip;q=0.5", true},
		{"gzip refused", "gzip;q=0, br", false},
		{"identity", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := get(t, http.Header{"Accept-Encoding": {tc.acceptEncoding}})
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("Vary %q", got)
			}
			body := rec.Body.Bytes()
			if tc.gzipped {
				if rec.Header().Get("Content-Encoding") != "gzip" {
					t.Fatalf("not gzipped")
				}
				zr, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			} else if rec.Header().Get("Content-Encoding") != "" {
				t.Fatalf("Content-Encoding %q", rec.Header().Get("Content-Encoding"))
			}
			if string(body) != bigJS {
				t.Errorf("body differs from the file")
			}
			// A revalidation with the same ETag costs no body.
			again := get(t, http.Header{"Accept-Encoding": {tc.acceptEncoding}, "If-None-Match": {rec.Header().Get("ETag")}})
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
				t.Errorf("If-None-Match: status %d, %d bytes; want 304 and none", again.Code, again.Body.Len())
			}
		})
	}
}

func TestDefaultNotFound(t *testing.T) {
	t.Parallel()
	h := web.Handler(web.Options{Files: fstest.MapFS{"index.html": {Data: []byte(indexHTML)}}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("DELETE", "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("status %d, want 404", rec.Code)
	}
}

func TestHandlerPanicsWithoutIndex(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("no panic for a build without index.html")
		}
	}()
	web.Handler(web.Options{Files: fstest.MapFS{"assets/a.js": {Data: []byte("x")}}})
}

// TestEmbeddedBuild checks the committed build: index.html exists, and
// every file it references is embedded and served with a long cache.
func TestEmbeddedBuild(t *testing.T) {
	t.Parallel()
	index, err := fs.ReadFile(web.Assets(), "index.html")
	if err != nil {
		t.Fatalf("the embedded build has no index.html (run make web): %v", err)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/[^"]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d files; want the script and the stylesheet at least:\n%s", len(refs), index)
	}
	h := web.Handler(web.Options{})
	for _, ref := range refs {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", ref[1], nil))
		if rec.Code != 200 {
			t.Errorf("GET %s: status %d", ref[1], rec.Code)
			continue
		}
		if strings.HasPrefix(ref[1], "/assets/") && !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: Cache-Control %q", ref[1], rec.Header().Get("Cache-Control"))
		}
	}
}
