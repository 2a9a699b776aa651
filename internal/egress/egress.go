// Package egress builds the http.Clients that carry every outbound
// delivery. It refuses to connect to loopback, private, link-local and other
// internal addresses unless allowed (all of them, or listed networks),
// checking the IP actually dialled (after DNS resolution), so a hostname
// that resolves to 127.0.0.1 or to a cloud metadata address cannot turn
// hookd against its own network.
//
// TLS is always verified. A destination may bring its own trusted CA and a
// client certificate (mutual TLS); Clients keeps one transport, with its
// connection pool, per distinct TLS settings. Redirects are not followed
// unless a destination asks for it, and then every hop goes through the
// same dial-time check.
package egress

import (
	"context"
	"crypto/tls"
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

// Options shape the clients.
type Options struct {
	// AllowPrivate lets deliveries reach every loopback and private address
	// (local development, tests). Default false.
	AllowPrivate bool
	// AllowCIDRs lists networks whose addresses deliveries may reach even
	// though they are internal, such as a receiver on 10.1.2.0/24; the rest
	// stay refused. Public addresses need no listing. Default none.
	AllowCIDRs []netip.Prefix
	// MaxConnsPerHost caps connections to one host per transport; 0 means
	// 256.
	MaxConnsPerHost int
}

// Allows reports whether a connection to ip is permitted: a public address,
// or an internal one that AllowPrivate or AllowCIDRs lets through.
func (o Options) Allows(ip netip.Addr) bool {
	if o.AllowPrivate || !Forbidden(ip) {
		return true
	}
	ip = ip.WithZone("") // a prefix never contains a zoned address
	for _, p := range o.AllowCIDRs {
		if p.Contains(ip) || p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// NewClient returns an outbound client with the system's trusted roots, no
// client certificate, and no redirects followed. Per-request timeouts come
// from the request's context; the client itself only bounds dialling and
// TLS. Clients hands out clients for destinations with TLS settings or
// FollowRedirects.
func NewClient(opts Options) *http.Client {
	return &http.Client{Transport: newTransport(opts, nil), CheckRedirect: noRedirects}
}

// noRedirects makes a 3xx the answer.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// newTransport returns a transport whose every connection passes the
// address check; tlsConfig nil means the system's roots.
func newTransport(opts Options, tlsConfig *tls.Config) *http.Transport {
	if opts.MaxConnsPerHost <= 0 {
		opts.MaxConnsPerHost = 256
	}
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
	}
	if !opts.AllowPrivate {
		dialer.ControlContext = guard{opts}.control
	}
	return &http.Transport{
		Proxy:                 nil, // a proxy would dial for us and bypass the address check
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   opts.MaxConnsPerHost,
		MaxConnsPerHost:       opts.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 0, // bounded by the per-attempt context
	}
}

// guard checks the address of every connection.
type guard struct{ opts Options }

// control runs after DNS resolution, on the address being dialled, before
// the connection is made: each address of a name, and each redirect hop,
// passes through it.
func (g guard) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if !g.opts.Allows(ip) {
		return fmt.Errorf("%w: %s is internal (list its network in HOOKD_ALLOW_DESTINATION_CIDRS, or set HOOKD_ALLOW_PRIVATE_DESTINATIONS=true, to allow)", ErrForbiddenAddress, ip)
	}
	return nil
}

// forbiddenPrefixes are the non-public ranges that netip's predicates do
// not cover.
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the 255.255.255.255 broadcast
	netip.MustParsePrefix("::/96"),          // IPv4-compatible IPv6 (deprecated)
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 can reach IPv4 internals
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001::/32"),      // Teredo: tunnels to an obfuscated IPv4 address
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated, still routed by some)
}

// sixToFour is 2002::/16, whose addresses embed an IPv4 address.
var sixToFour = netip.MustParsePrefix("2002::/16")

// Forbidden reports whether ip is internal: loopback, private (RFC 1918,
// fc00::/7), link-local (including the 169.254.169.254 metadata service and
// fe80::/10), unspecified, multicast, carrier-grade NAT, reserved, an
// IPv4-mapped or 6to4 form of any of those, or another non-public range.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if sixToFour.Contains(ip) {
		b := ip.As16()
		return Forbidden(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	return false
}
