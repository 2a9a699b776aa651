package egress_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/egress"
	"github.com/hookd/hookd/internal/webhook"
)

// seen is what a server was sent.
type seen struct {
	method, path, body, signature, auth, custom string
}

// recorder is a server on a given loopback address that records requests
// and answers with handle.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

func listenOn(t *testing.T, ip string, handle func(w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	rec := &recorder{}
	rec.Server = &httptest.Server{
		Listener: ln,
		Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			rec.mu.Lock()
			rec.reqs = append(rec.reqs, seen{r.Method, r.URL.Path, string(body), r.Header.Get("webhook-signature"), r.Header.Get("Authorization"), r.Header.Get("X-Custom")})
			rec.mu.Unlock()
			handle(w, r)
		})},
	}
	rec.Start()
	t.Cleanup(rec.Close)
	return rec
}

// deliver posts a signed body as the delivery engine does, with the client
// Clients picks for a destination that follows redirects.
func deliver(t *testing.T, clients *egress.Clients, target string, follow bool) (*http.Response, error) {
	t.Helper()
	c, err := clients.For(webhook.Destination{URL: target, FollowRedirects: follow})
	if err != nil {
		t.Fatalf("For: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("webhook-signature", "v1,c2ln")
	req.Header.Set("Authorization", "Bearer token")
	req.Header.Set("X-Custom", "kept")
	resp, err := c.Do(req)
	if err == nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return resp, err
}

// hops redirects /hop/N to /hop/N-1 with code, and answers /hop/0 with 200.
func hops(code int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
		if n == 0 {
			_, _ = io.WriteString(w, "delivered")
			return
		}
		w.Header().Set("Location", fmt.Sprintf("/hop/%d", n-1))
		w.WriteHeader(code)
	}
}

func TestFollowRedirectsResendsThePost(t *testing.T) {
	t.Parallel()
	clients := egress.NewClients(loopbackOnly)
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			srv := listenOn(t, "127.0.0.1", hops(code))
			resp, err := deliver(t, clients, srv.URL+"/hop/2", true)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200 after the redirects", resp.StatusCode)
			}
			reqs := srv.requests()
			if len(reqs) != 3 {
				t.Fatalf("server saw %d requests, want 3", len(reqs))
			}
			for i, r := range reqs {
				want := seen{http.MethodPost, fmt.Sprintf("/hop/%d", 2-i), `{"n":1}`, "v1,c2ln", "Bearer token", "kept"}
				if r != want {
					t.Errorf("request %d = %+v, want %+v", i, r, want)
				}
			}
		})
	}
}

func TestFollowRedirectsLimit(t *testing.T) {
	t.Parallel()
	srv := listenOn(t, "127.0.0.1", hops(http.StatusTemporaryRedirect))
	clients := egress.NewClients(loopbackOnly)

	resp, err := deliver(t, clients, srv.URL+fmt.Sprintf("/hop/%d", egress.MaxRedirects), true)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d redirects: (%v, %v), want 200", egress.MaxRedirects, resp, err)
	}
	_, err = deliver(t, clients, srv.URL+fmt.Sprintf("/hop/%d", egress.MaxRedirects+1), true)
	if !errors.Is(err, egress.ErrTooManyRedirects) {
		t.Fatalf("%d redirects: %v, want ErrTooManyRedirects", egress.MaxRedirects+1, err)
	}
	if got, want := len(srv.requests()), egress.MaxRedirects+1+egress.MaxRedirects+1; got != want {
		t.Errorf("server saw %d requests, want %d", got, want)
	}
}

func TestRedirectsNotFollowedByDefault(t *testing.T) {
	t.Parallel()
	srv := listenOn(t, "127.0.0.1", hops(http.StatusFound))
	resp, err := deliver(t, egress.NewClients(loopbackOnly), srv.URL+"/hop/1", false)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want the 302 itself", resp.StatusCode)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

// TestSeeOtherIsTheAnswer checks that a 303, which asks for a GET of
// another resource, is not followed: that GET would deliver nothing.
func TestSeeOtherIsTheAnswer(t *testing.T) {
	t.Parallel()
	srv := listenOn(t, "127.0.0.1", hops(http.StatusSeeOther))
	resp, err := deliver(t, egress.NewClients(loopbackOnly), srv.URL+"/hop/1", true)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("status %d, want 303", resp.StatusCode)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

// TestRedirectHopsPassTheAddressCheck allows the first server's address
// (127.0.0.1) only, and has it redirect to internal addresses: every hop
// must be refused before a connection is made.
func TestRedirectHopsPassTheAddressCheck(t *testing.T) {
	t.Parallel()
	inside := listenOn(t, "127.0.0.2", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "internal") })
	_, insidePort, _ := net.SplitHostPort(inside.Listener.Addr().String())
	targets := []string{
		inside.URL + "/admin",
		"http://[::ffff:127.0.0.2]:" + insidePort + "/admin",
		"http://169.254.169.254/latest/meta-data/",
		"http://[fd00:ec2::254]/latest/meta-data/",
		"http://[::1]:" + insidePort + "/",
		"http://0.0.0.0:" + insidePort + "/",
	}
	first := listenOn(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusTemporaryRedirect)
	})
	clients := egress.NewClients(loopbackOnly)
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			resp, err := deliver(t, clients, first.URL+"/?to="+target, true)
			if err == nil {
				t.Fatalf("redirect to %s: status %d, want refused", target, resp.StatusCode)
			}
			if !errors.Is(err, egress.ErrForbiddenAddress) {
				t.Fatalf("redirect to %s: %v, want ErrForbiddenAddress", target, err)
			}
			if !strings.Contains(err.Error(), "redirect 1 to") {
				t.Errorf("error %q does not say it was a redirect", err)
			}
		})
	}
	t.Cleanup(func() {
		if n := len(inside.requests()); n != 0 {
			t.Errorf("internal server saw %d requests, want 0", n)
		}
	})
}

// TestRedirectToAllowedNetwork lists both addresses: the same redirect
// then goes through.
func TestRedirectToAllowedNetwork(t *testing.T) {
	t.Parallel()
	inside := listenOn(t, "127.0.0.2", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "internal") })
	first := listenOn(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL+"/ok", http.StatusTemporaryRedirect)
	})
	both := egress.NewClients(egress.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("127.0.0.2/32")}})
	resp, err := deliver(t, both, first.URL+"/", true)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("redirect to an allowed address: (%v, %v), want 200", resp, err)
	}
	if n := len(inside.requests()); n != 1 {
		t.Errorf("second server saw %d requests, want 1", n)
	}
}

// TestRedirectToAnotherHostDropsCredentials checks that Authorization is
// not carried to another host, as net/http would not, while the other
// headers and the signature are.
func TestRedirectToAnotherHostDropsCredentials(t *testing.T) {
	t.Parallel()
	second := listenOn(t, "127.0.0.2", func(http.ResponseWriter, *http.Request) {})
	first := listenOn(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, second.URL+"/moved", http.StatusPermanentRedirect)
	})
	clients := egress.NewClients(egress.Options{AllowPrivate: true})
	if _, err := deliver(t, clients, first.URL+"/", true); err != nil {
		t.Fatalf("POST: %v", err)
	}
	reqs := second.requests()
	if len(reqs) != 1 {
		t.Fatalf("second host saw %d requests, want 1", len(reqs))
	}
	if want := (seen{http.MethodPost, "/moved", `{"n":1}`, "v1,c2ln", "", "kept"}); reqs[0] != want {
		t.Errorf("second host saw %+v, want %+v", reqs[0], want)
	}
}

func TestRedirectFromHTTPSToHTTPRefused(t *testing.T) {
	t.Parallel()
	plain := listenOn(t, "127.0.0.1", func(http.ResponseWriter, *http.Request) {})
	ca := newAuthority(t, "CA")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/", http.StatusMovedPermanently)
	}))
	srv.TLS = tlsConfigFor(t, ca)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := egress.NewClients(loopbackOnly).For(webhook.Destination{CACert: ca.pem, FollowRedirects: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = post(context.Background(), t, c, srv.URL)
	if !errors.Is(err, egress.ErrRedirectDowngrade) {
		t.Fatalf("POST: %v, want ErrRedirectDowngrade", err)
	}
	if n := len(plain.requests()); n != 0 {
		t.Errorf("http server saw %d requests, want 0", n)
	}
}
