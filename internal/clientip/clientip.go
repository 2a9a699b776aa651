// Package clientip finds the address of the client behind trusted reverse
// proxies, so that per-address allow-lists and limits see the client and not
// the load balancer. Forwarding headers are only believed when the TCP peer
// is one of the configured proxies: any client can send them.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

// Resolve returns the client address for a request whose TCP peer is peer
// and whose X-Forwarded-For header lines are xff, in the order received.
//
// When peer is not in trusted, or trusted is empty, the result is peer and
// the header is not looked at: an untrusted peer may have written it. When
// peer is trusted, the header's entries (several lines count as one list,
// joined in order) are walked from the right, each one the address that the
// proxy to its right saw: the first entry that is not itself a trusted proxy
// is the client; if every entry is trusted, the leftmost is. An entry the
// walk reaches that is not an IP address (optionally with a port, as some
// load balancers write it) makes the whole header count as absent, and
// peer is returned; entries left of the client are never parsed, so junk a
// client puts there changes nothing. Addresses are returned unmapped
// (::ffff:a.b.c.d becomes a.b.c.d) and without zone.
//
// Resolve never fails: a missing or malformed header gives peer.
func Resolve(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	peer = peer.Unmap().WithZone("")
	if !contains(trusted, peer) {
		return peer
	}
	var client netip.Addr
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, line = line, ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				// "a, , b": an empty member, as RFC 9110 lists allow.
				continue
			}
			a, ok := parseEntry(entry)
			if !ok {
				return peer
			}
			if !contains(trusted, a) {
				return a
			}
			client = a
		}
	}
	if !client.IsValid() {
		return peer // no header, or only empty members
	}
	return client // every hop trusted: the leftmost is the origin
}

// parseEntry reads one X-Forwarded-For member: an IP address, an
// "ip:port" or "[ipv6]:port", or a bracketed "[ipv6]".
func parseEntry(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

func contains(trusted []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr parses http.Request.RemoteAddr ("ip:port", or a bare IP as some
// servers and tests set it).
func peerAddr(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr(), true
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a, true
	}
	return netip.Addr{}, false
}

// Handler returns next with each request's RemoteAddr replaced by the
// client address that [Resolve] finds, when the TCP peer is a trusted proxy
// and its X-Forwarded-For names someone else. Everything downstream (the
// source allow-lists, the login limiter, logs) then reads the client from
// RemoteAddr as it would without a proxy, and cannot forget to; the new
// value is a bare IP, since the client's port is not known. With no trusted
// proxies next is returned as it is.
//
// The Forwarded header (RFC 7239) is not read: the proxies hookd is deployed
// behind write X-Forwarded-For, and believing a second header that a proxy
// passes through untouched would let a client choose its address.
func Handler(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, ok := peerAddr(r.RemoteAddr)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		peer = peer.Unmap().WithZone("")
		if client := Resolve(peer, r.Header.Values("X-Forwarded-For"), trusted); client != peer {
			r = r.WithContext(r.Context()) // a shallow copy: the caller's request stays as it was
			r.RemoteAddr = client.String()
		}
		next.ServeHTTP(w, r)
	})
}
