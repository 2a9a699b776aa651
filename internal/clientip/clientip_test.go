package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func mustTrusted(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrusted(s)
	if err != nil {
		t.Fatalf("ParseTrusted(%q): %v", s, err)
	}
	return p
}

func TestResolve(t *testing.T) {
	t.Parallel()
	trusted := mustTrusted(t, "10.0.0.0/8, 127.0.0.1, fd00::/8")
	tests := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{name: "no proxies configured, header ignored", peer: "198.51.100.1", xff: []string{"203.0.113.7"}, want: "198.51.100.1"},
		{name: "untrusted peer cannot spoof", peer: "198.51.100.1", xff: []string{"203.0.113.7, 10.0.0.1"}, want: "198.51.100.1"},
		{name: "trusted peer, one hop", peer: "10.1.2.3", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "trusted peer, no header", peer: "10.1.2.3", want: "10.1.2.3"},
		{name: "trusted peer, empty header", peer: "10.1.2.3", xff: []string{""}, want: "10.1.2.3"},
		{name: "only empty members", peer: "10.1.2.3", xff: []string{" , ,"}, want: "10.1.2.3"},
		{name: "rightmost untrusted wins over a spoofed left", peer: "10.1.2.3", xff: []string{"203.0.113.7, 198.51.100.9"}, want: "198.51.100.9"},
		{name: "trusted hops are skipped", peer: "10.1.2.3", xff: []string{"203.0.113.7, 10.9.9.9, 10.8.8.8"}, want: "203.0.113.7"},
		{name: "all trusted gives the leftmost", peer: "10.1.2.3", xff: []string{"10.5.5.5, 10.6.6.6"}, want: "10.5.5.5"},
		{name: "several header lines are one list", peer: "10.1.2.3", xff: []string{"203.0.113.7", "10.6.6.6"}, want: "203.0.113.7"},
		{name: "later line is nearer", peer: "10.1.2.3", xff: []string{"203.0.113.7", "198.51.100.9"}, want: "198.51.100.9"},
		{name: "junk left of the client is never read", peer: "10.1.2.3", xff: []string{"not-an-ip, 203.0.113.7"}, want: "203.0.113.7"},
		{name: "junk reached by the walk falls back to the peer", peer: "10.1.2.3", xff: []string{"203.0.113.7, unknown"}, want: "10.1.2.3"},
		{name: "junk behind a trusted hop falls back to the peer", peer: "10.1.2.3", xff: []string{"nope, 10.6.6.6"}, want: "10.1.2.3"},
		{name: "entry with port", peer: "10.1.2.3", xff: []string{"203.0.113.7:51234"}, want: "203.0.113.7"},
		{name: "ipv6 entry", peer: "10.1.2.3", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
		{name: "bracketed ipv6 with port", peer: "10.1.2.3", xff: []string{"[2001:db8::1]:443"}, want: "2001:db8::1"},
		{name: "bracketed ipv6", peer: "10.1.2.3", xff: []string{"[2001:db8::1]"}, want: "2001:db8::1"},
		{name: "mapped entry is unmapped", peer: "10.1.2.3", xff: []string{"::ffff:203.0.113.7"}, want: "203.0.113.7"},
		{name: "mapped trusted peer", peer: "::ffff:10.1.2.3", xff: []string{"203.0.113.7"}, want: "203.0.113.7"},
		{name: "ipv6 trusted peer", peer: "fd00::5", xff: []string{"203.0.113.7, fd00::6"}, want: "203.0.113.7"},
		{name: "zone is dropped", peer: "10.1.2.3", xff: []string{"fe80::1%eth0"}, want: "fe80::1"},
		{name: "obfuscated RFC 7239 style name is junk", peer: "10.1.2.3", xff: []string{"_hidden"}, want: "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := trusted
			if strings.HasPrefix(tt.name, "no proxies") {
				tr = nil
			}
			got := Resolve(netip.MustParseAddr(tt.peer), tt.xff, tr)
			if got.String() != tt.want {
				t.Errorf("Resolve(%s, %q) = %s, want %s", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
}

func TestParseTrusted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string // prefixes joined by spaces
		wantErr string // a part of the error
	}{
		{in: "", want: ""},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.1.2.3/8,  192.168.1.10 fd00::/8", want: "10.0.0.0/8 192.168.1.10/32 fd00::/8"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "::ffff:10.0.0.1", want: "10.0.0.1/32"},
		{in: "10.0.0.0/8,proxy.local", wantErr: `"proxy.local"`},
		{in: "10.0.0.0/33", wantErr: `"10.0.0.0/33"`},
		{in: "fe80::1%eth0", wantErr: "zone"},
		{in: "::ffff:0.0.0.0/8", wantErr: "/96"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTrusted(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTrusted(%q) error = %v, want one containing %s", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTrusted(%q): %v", tt.in, err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if j := strings.Join(s, " "); j != tt.want {
				t.Errorf("ParseTrusted(%q) = %q, want %q", tt.in, j, tt.want)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	trusted := mustTrusted(t, "127.0.0.1")
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     string
		want    string
	}{
		{name: "no proxies: untouched", remote: "127.0.0.1:5000", xff: "203.0.113.7", want: "127.0.0.1:5000"},
		{name: "trusted peer: client", trusted: trusted, remote: "127.0.0.1:5000", xff: "203.0.113.7", want: "203.0.113.7"},
		{name: "untrusted peer: untouched", trusted: trusted, remote: "127.0.0.2:5000", xff: "203.0.113.7", want: "127.0.0.2:5000"},
		{name: "trusted peer without header: untouched", trusted: trusted, remote: "127.0.0.1:5000", want: "127.0.0.1:5000"},
		{name: "malformed header: untouched", trusted: trusted, remote: "127.0.0.1:5000", xff: "%%%", want: "127.0.0.1:5000"},
		{name: "unparsable RemoteAddr: untouched", trusted: trusted, remote: "pipe", xff: "203.0.113.7", want: "pipe"},
		{name: "Forwarded is not read", trusted: trusted, remote: "127.0.0.1:5000", want: "127.0.0.1:5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got string
			h := Handler(tt.trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }))
			r := httptest.NewRequest(http.MethodPost, "/webhook/x", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			r.Header.Set("Forwarded", "for=198.51.100.77")
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Errorf("RemoteAddr seen = %q, want %q", got, tt.want)
			}
			if r.RemoteAddr != tt.remote {
				t.Errorf("the caller's request was changed: %q", r.RemoteAddr)
			}
		})
	}
}

// FuzzResolve checks that no header, however malformed, makes Resolve
// panic, return an invalid address, or take an address from the header of
// an untrusted peer; and that what it returns is the peer or an address
// written in the header.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"", "203.0.113.7", "203.0.113.7, 198.51.100.9", "10.0.0.1, 10.0.0.2", "unknown", ",,,",
		"[2001:db8::1]:80", "::ffff:10.0.0.1", "fe80::1%25eth0", "1.2.3.4:99999", "for=1.2.3.4", "\x00,\xff",
	} {
		f.Add("10.0.0.5", s)
		f.Add("192.0.2.1", s)
	}
	trusted := mustTrusted(f, "10.0.0.0/8, fd00::/8")
	f.Fuzz(func(t *testing.T, peerText, xff string) {
		peer, err := netip.ParseAddr(peerText)
		if err != nil {
			return
		}
		got := Resolve(peer, []string{xff}, trusted)
		if !got.IsValid() {
			t.Fatalf("Resolve(%s, %q) returned an invalid address", peer, xff)
		}
		p := peer.Unmap().WithZone("")
		if !contains(trusted, p) && got != p {
			t.Fatalf("untrusted peer %s: got %s from the header %q", peer, got, xff)
		}
		if _, ok := parseAny(xff, got); got != p && !ok {
			t.Fatalf("Resolve(%s, %q) = %s, not the peer nor a header entry", peer, xff, got)
		}
	})
}

// parseAny reports whether some comma-separated member of xff parses to a.
func parseAny(xff string, a netip.Addr) (netip.Addr, bool) {
	for _, m := range strings.Split(xff, ",") {
		if b, ok := parseEntry(strings.TrimSpace(m)); ok && b == a {
			return b, true
		}
	}
	return netip.Addr{}, false
}
