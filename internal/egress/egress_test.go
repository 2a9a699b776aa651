package egress_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/egress"
)

func TestForbidden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr      string
		forbidden bool
	}{
		// Loopback.
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		// RFC 1918.
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.0.1", true},
		{"192.168.255.255", true},
		// Link-local, cloud metadata included.
		{"169.254.169.254", true},
		{"169.254.0.1", true},
		{"fe80::1", true},
		{"febf::1", true},
		// Unique local IPv6 (fc00::/7), AWS's IPv6 metadata address included.
		{"fc00::1", true},
		{"fd00:ec2::254", true},
		{"fdff:ffff::1", true},
		// IPv4-mapped IPv6 of internal addresses.
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.1.2.3", true},
		{"::ffff:169.254.169.254", true},
		// Unspecified, "this network".
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"::", true},
		// Carrier-grade NAT.
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		// Multicast.
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"ff02::1", true},
		// Benchmarking and IETF protocol assignments.
		{"198.18.0.1", true},
		{"192.0.0.1", true},

		// Public addresses, including neighbours of the ranges above.
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"2606:4700::1", false},
		{"2001:4860:4860::8888", false},
		{"::ffff:8.8.8.8", false},
		{"172.15.255.255", false},
		{"172.32.0.0", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"11.0.0.1", false},
		{"192.167.255.255", false},
		{"169.253.255.255", false},
		{"fbff::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			ip := netip.MustParseAddr(tt.addr)
			if got := egress.Forbidden(ip); got != tt.forbidden {
				t.Errorf("Forbidden(%s) = %v, want %v", ip, got, tt.forbidden)
			}
		})
	}
}

// countingServer is an httptest server on 127.0.0.1 that counts requests.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func post(ctx context.Context, t *testing.T, c *http.Client, target string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	return c.Do(req)
}

func TestClientRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatalf("parse %s: %v", srv.URL, err)
	}
	targets := map[string]string{
		"ip":        srv.URL,
		"localhost": "http://localhost:" + u.Port(), // refused after name resolution
	}
	c := egress.NewClient(egress.Options{AllowPrivate: false})
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := post(ctx, t, c, target)
			if err == nil {
				_ = resp.Body.Close()
				t.Fatalf("POST %s: status %d, want a refused connection", target, resp.StatusCode)
			}
			if !errors.Is(err, egress.ErrForbiddenAddress) {
				t.Fatalf("POST %s: %v, want an error wrapping ErrForbiddenAddress", target, err)
			}
		})
	}
	t.Cleanup(func() {
		if n := hits.Load(); n != 0 {
			t.Errorf("server saw %d requests, want 0", n)
		}
	})
}

func TestClientAllowPrivate(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	c := egress.NewClient(egress.Options{AllowPrivate: true})
	resp, err := post(context.Background(), t, c, srv.URL)
	if err != nil {
		t.Fatalf("POST %s with AllowPrivate: %v", srv.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("got %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var followed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "/elsewhere", code)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, _ *http.Request) {
		followed.Add(1)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := egress.NewClient(egress.Options{AllowPrivate: true})

	codes := []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect}
	for _, code := range codes {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			target := srv.URL + "/hook?code=" + strconv.Itoa(code)
			resp, err := post(context.Background(), t, c, target)
			if err != nil {
				t.Fatalf("POST %s: %v", target, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != code {
				t.Errorf("status %d, want the redirect %d itself", resp.StatusCode, code)
			}
			if got := resp.Header.Get("Location"); got != "/elsewhere" {
				t.Errorf("Location = %q, want /elsewhere", got)
			}
		})
	}
	t.Cleanup(func() {
		if n := followed.Load(); n != 0 {
			t.Errorf("redirect target saw %d requests, want 0", n)
		}
	})
}

// TestClientIgnoresProxyEnvironment checks that a proxy from the
// environment, which would dial on hookd's behalf and bypass the address
// check, is not used.
func TestClientIgnoresProxyEnvironment(t *testing.T) {
	t.Parallel()
	c := egress.NewClient(egress.Options{})
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("Transport is %T, want *http.Transport", c.Transport)
	}
	if tr.Proxy != nil {
		req := httptest.NewRequest(http.MethodPost, "http://example.com/", nil)
		if u, err := tr.Proxy(req); err != nil || u != nil {
			t.Errorf("Proxy(%s) = (%v, %v), want no proxy", req.URL, u, err)
		}
	}
}

// TestRefusedBeforeConnect checks that the refusal happens before any
// connection is made: a listener on a loopback address accepts nothing from
// the refused client. A marker connection made afterwards must be the first
// one accepted (the accept queue is first in, first out).
func TestRefusedBeforeConnect(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan string, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn.RemoteAddr().String()
			_ = conn.Close()
		}
	}()

	c := egress.NewClient(egress.Options{})
	resp, err := post(context.Background(), t, c, "http://"+ln.Addr().String()+"/")
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("POST to a loopback listener succeeded, want refusal")
	}
	if !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Fatalf("POST: %v, want ErrForbiddenAddress", err)
	}

	marker, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial marker: %v", err)
	}
	defer marker.Close()
	select {
	case first := <-accepted:
		if first != marker.LocalAddr().String() {
			t.Errorf("listener accepted %s before the marker %s: the refused client connected", first, marker.LocalAddr())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("marker connection not accepted")
	}
}
