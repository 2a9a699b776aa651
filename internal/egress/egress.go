// Package egress builds the http.Client that carries every outbound
// delivery. It refuses to connect to loopback, private, link-local and other
// internal addresses unless allowed, checking the IP actually dialled (after
// DNS resolution), so a hostname that resolves to 127.0.0.1 or to a cloud
// metadata address cannot turn hookd against its own network. Redirects are
// never followed: a 3xx is the receiver's answer, and a failure.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is wrapped by dial errors for refused addresses.
var ErrForbiddenAddress = errors.New("destination address is not allowed")

// Options shape the client.
type Options struct {
	// AllowPrivate lets deliveries reach loopback and private addresses
	// (local development, tests). Default false.
	AllowPrivate bool
	// MaxConnsPerHost caps connections to one host; 0 means 256.
	MaxConnsPerHost int
}

// NewClient returns the outbound client. Per-request timeouts come from the
// request's context; the client itself only bounds dialling and TLS.
func NewClient(opts Options) *http.Client {
	if opts.MaxConnsPerHost <= 0 {
		opts.MaxConnsPerHost = 256
	}
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
	}
	if !opts.AllowPrivate {
		dialer.ControlContext = refusePrivate
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us and bypass the address check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   opts.MaxConnsPerHost,
		MaxConnsPerHost:       opts.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // bounded by the per-attempt context
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// refusePrivate runs after DNS resolution, on the address being dialled.
func refusePrivate(_ context.Context, network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if Forbidden(ip) {
		return fmt.Errorf("%w: %s is internal (set HOOKD_ALLOW_PRIVATE_DESTINATIONS=true to allow)", ErrForbiddenAddress, ip)
	}
	return nil
}

var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64 can reach IPv4 internals
}

// Forbidden reports whether ip is internal: loopback, private, link-local
// (including the 169.254.169.254 metadata service), unspecified, multicast,
// or another non-public range.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
