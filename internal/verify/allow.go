package verify

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// parseAllowList parses AllowIPs entries: addresses (a /32 or /128) and
// CIDR blocks, IPv4 or IPv6. An IPv4-mapped IPv6 entry (::ffff:10.0.0.0/104)
// becomes its IPv4 block, as client addresses are compared unmapped. On
// error it returns the index of the bad entry.
func parseAllowList(entries []string) ([]netip.Prefix, int, error) {
	if len(entries) == 0 {
		return nil, 0, nil
	}
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		p, err := parseAllowEntry(strings.TrimSpace(e))
		if err != nil {
			return nil, i, fmt.Errorf("%q %w", e, err)
		}
		out = append(out, p)
	}
	return out, 0, nil
}

var errNotAddress = errors.New("is not an IP address or CIDR block")

func parseAllowEntry(s string) (netip.Prefix, error) {
	if strings.Contains(s, "%") {
		return netip.Prefix{}, errors.New("must not carry an IPv6 zone")
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, errNotAddress
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errNotAddress
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("is an IPv4-mapped block shorter than /96")
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// clientAddr parses a connection's remote address ("ip:port", or a bare
// IP as some servers and tests set it) into a comparable address:
// unmapped, without zone.
func clientAddr(remote string) (netip.Addr, bool) {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(remote); err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// CheckAddr checks a connection's remote address (http.Request.RemoteAddr)
// against the allow-list; an empty list allows any. It is the address of
// the TCP peer, or of the client behind a proxy listed in
// HOOKD_TRUSTED_PROXIES (the server rewrites RemoteAddr; internal/clientip):
// CheckAddr itself trusts no header, as any client can set them. Ingest calls
// it before reading the body, so that a refused client costs no read; Verify
// calls it too. The error wraps ErrForbidden and webhook.ErrUnauthorized.
func (v *Verifier) CheckAddr(remoteAddr string) error {
	if len(v.allow) == 0 {
		return nil
	}
	a, ok := clientAddr(remoteAddr)
	if !ok {
		return fail("client address", ErrForbidden, "it could not be parsed")
	}
	for _, p := range v.allow {
		if p.Contains(a) {
			return nil
		}
	}
	return fail("client address "+a.String(), ErrForbidden, "")
}
