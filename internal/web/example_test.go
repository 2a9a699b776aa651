package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hookd/hookd/internal/web"
)

// The dashboard goes last on a mux: routes registered before it win, and
// what it does not serve goes to NotFound.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.Handle("/", web.Handler(web.Options{
		NotFound: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"code":"not_found"}`, http.StatusNotFound)
		}),
	}))
	for _, path := range []string{"/healthz", "/webhooks?status=failed", "/api/nowhere", "/assets/gone.js"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Println(path, rec.Code, rec.Header().Get("Content-Type"))
	}
	// Output:
	// /healthz 200 text/plain; charset=utf-8
	// /webhooks?status=failed 200 text/html; charset=utf-8
	// /api/nowhere 404 text/plain; charset=utf-8
	// /assets/gone.js 404 text/plain; charset=utf-8
}
