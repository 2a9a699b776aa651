package egress_test

import (
	"context"
	"errors"
	"io"
	"log"
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
		{"198.19.255.255", true},
		{"192.0.0.1", true},
		{"192.0.0.8", true},
		{"192.0.0.255", true},
		// Reserved (240/4) and broadcast.
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		// Cloud metadata services by other names.
		{"169.254.170.2", true},   // ECS task metadata
		{"100.100.100.200", true}, // Alibaba Cloud (carrier-grade NAT range)
		{"fd00:ec2::254", true},   // AWS over IPv6
		// IPv4-mapped forms of every internal IPv4 range.
		{"::ffff:0.0.0.0", true},
		{"::ffff:100.64.0.1", true},
		{"::ffff:192.168.1.1", true},
		{"::ffff:172.16.0.1", true},
		{"::ffff:192.0.0.1", true},
		{"::ffff:255.255.255.255", true},
		// IPv4-compatible (deprecated) and NAT64 forms.
		{"::127.0.0.1", true},
		{"::a9fe:a9fe", true},
		{"64:ff9b::7f00:1", true},
		{"64:ff9b::a9fe:a9fe", true},
		{"64:ff9b:1::a00:1", true},
		// 6to4 embedding an internal IPv4 address; Teredo; site-local;
		// discard-only.
		{"2002:7f00:1::1", true},
		{"2002:a9fe:a9fe::", true},
		{"2002:c0a8:101::1", true},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", true},
		{"fec0::1", true},
		{"100::1", true},
		// Link-local with a zone.
		{"fe80::1%eth0", true},
		// Edges of fc00::/7 and fe80::/10.
		{"fc00::", true},
		{"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
		{"fe80::", true},
		{"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},

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
		{"fe00::1", false},
		{"2002:808:808::1", false}, // 6to4 of 8.8.8.8
		{"2001:db9::1", false},
		{"64:ff9b:2::1", false},
		{"239.255.255.255", true},
		{"223.255.255.255", false},
		{"198.20.0.0", false},
		{"192.0.1.1", false},
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

func TestOptionsAllows(t *testing.T) {
	t.Parallel()
	prefixes := func(ss ...string) []netip.Prefix {
		out := make([]netip.Prefix, len(ss))
		for i, s := range ss {
			out[i] = netip.MustParsePrefix(s)
		}
		return out
	}
	tests := []struct {
		name  string
		opts  egress.Options
		addr  string
		allow bool
	}{
		{"public, no options", egress.Options{}, "8.8.8.8", true},
		{"private, no options", egress.Options{}, "10.1.2.3", false},
		{"private, AllowPrivate", egress.Options{AllowPrivate: true}, "10.1.2.3", true},
		{"metadata, AllowPrivate", egress.Options{AllowPrivate: true}, "169.254.169.254", true},
		{"in a listed network", egress.Options{AllowCIDRs: prefixes("10.1.0.0/16")}, "10.1.2.3", true},
		{"mapped form, in a listed network", egress.Options{AllowCIDRs: prefixes("10.1.0.0/16")}, "::ffff:10.1.2.3", true},
		{"outside the listed network", egress.Options{AllowCIDRs: prefixes("10.1.0.0/16")}, "10.2.0.1", false},
		{"metadata, another network listed", egress.Options{AllowCIDRs: prefixes("10.0.0.0/8")}, "169.254.169.254", false},
		{"loopback, another network listed", egress.Options{AllowCIDRs: prefixes("10.0.0.0/8")}, "127.0.0.1", false},
		{"public, a network listed", egress.Options{AllowCIDRs: prefixes("10.0.0.0/8")}, "1.1.1.1", true},
		{"one address listed", egress.Options{AllowCIDRs: prefixes("127.0.0.1/32")}, "127.0.0.1", true},
		{"its neighbour", egress.Options{AllowCIDRs: prefixes("127.0.0.1/32")}, "127.0.0.2", false},
		{"IPv6 network", egress.Options{AllowCIDRs: prefixes("fd12:3456::/32")}, "fd12:3456::1", true},
		{"IPv6 zoned address", egress.Options{AllowCIDRs: prefixes("fe80::/10")}, "fe80::1%eth0", true},
		{"IPv6 outside", egress.Options{AllowCIDRs: prefixes("fd12:3456::/32")}, "fd00:ec2::254", false},
		{"explicitly listed metadata", egress.Options{AllowCIDRs: prefixes("169.254.169.254/32")}, "169.254.169.254", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.opts.Allows(netip.MustParseAddr(tt.addr)); got != tt.allow {
				t.Errorf("Allows(%s) = %v, want %v", tt.addr, got, tt.allow)
			}
		})
	}
}

// TestClientAllowCIDRs reaches a listed loopback address and is refused
// the next one.
func TestClientAllowCIDRs(t *testing.T) {
	t.Parallel()
	allowed := listenOn(t, "127.0.0.1", func(http.ResponseWriter, *http.Request) {})
	other := listenOn(t, "127.0.0.2", func(http.ResponseWriter, *http.Request) {})
	c := egress.NewClient(egress.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	resp, err := post(context.Background(), t, c, allowed.URL)
	if err != nil {
		t.Fatalf("POST to the listed address: %v", err)
	}
	_ = resp.Body.Close()
	if _, err := post(context.Background(), t, c, other.URL); !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Fatalf("POST to an unlisted loopback address: %v, want ErrForbiddenAddress", err)
	}
	if n := len(other.requests()); n != 0 {
		t.Errorf("unlisted server saw %d requests, want 0", n)
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

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
