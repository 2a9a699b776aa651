package limit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hookd/hookd/internal/limit"
	"github.com/hookd/hookd/internal/webhook"
)

// staticCatalog is a catalog that never changes.
type staticCatalog map[string]webhook.Source

func (c staticCatalog) Source(name string) (webhook.Source, bool) {
	s, ok := c[name]
	return s, ok
}

func ExampleGuard() {
	guard := limit.New(limit.Options{
		Catalog:       staticCatalog{"github": {Name: "github", RateLimit: 0.1, RateBurst: 2}},
		MaxConcurrent: 1024,
		MaxBodyBytes:  64 << 20,
	})
	ingest := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /webhook/{source}", guard.Wrap(ingest))

	for range 3 {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("POST", "/webhook/github", strings.NewReader("{}")))
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Header().Get("Retry-After"), " ", rec.Body.String())))
	}
	// Output:
	// 202
	// 202
	// 429 10 {"code":"rate_limited","error":"source \"github\" accepts 0.1 requests per second (bursts of 2); retry later"}
}
