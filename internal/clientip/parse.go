package clientip

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseTrusted reads a list of proxy addresses and CIDR blocks separated by
// commas or spaces, such as "10.0.0.0/8, 192.168.1.10". A bare address is a
// block of one. IPv4-mapped IPv6 forms are turned into IPv4, as [Resolve]
// compares unmapped addresses. An empty list is valid and trusts no one.
// The error quotes the first entry that is not an address or block.
func ParseTrusted(s string) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		p, err := parsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR block such as 10.0.0.0/8: %w", f, err)
		}
		nets = append(nets, p)
	}
	return nets, nil
}

func parsePrefix(f string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(f)
	if err != nil {
		a, aerr := netip.ParseAddr(f)
		if aerr != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("an address with a zone cannot be matched")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("an IPv4-mapped block shorter than /96 is not meaningful")
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
