package egress_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/egress"
	"github.com/hookd/hookd/internal/webhook"
)

// loopbackOnly lets the clients reach 127.0.0.1 and nothing else internal,
// so the TLS tests run with the address check on.
var loopbackOnly = egress.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

// tlsServer starts an HTTPS server on 127.0.0.1 with a certificate from ca;
// clientCAs, when not nil, makes it require and verify client
// certificates. It answers with the client certificate's common name.
func tlsServer(t *testing.T, ca *authority, clientCAs *x509.CertPool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		cn := "anonymous"
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		_, _ = io.WriteString(w, cn)
	}))
	srv.TLS = tlsConfigFor(t, ca)
	if clientCAs != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = clientCAs
	}
	srv.Config.ErrorLog = discardLog() // refused handshakes are expected here
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &hits
}

// send posts to d.URL with the client Clients chooses for d and returns
// the body of a 200.
func send(t *testing.T, clients *egress.Clients, d webhook.Destination) (string, error) {
	t.Helper()
	c, err := clients.For(d)
	if err != nil {
		t.Fatalf("Clients.For: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := post(ctx, t, c, d.URL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	return string(body), nil
}

func TestTLSTrustedViaCACert(t *testing.T) {
	t.Parallel()
	ca := newAuthority(t, "private CA")
	srv, _ := tlsServer(t, ca, nil)
	clients := egress.NewClients(loopbackOnly)

	got, err := send(t, clients, webhook.Destination{URL: srv.URL, CACert: ca.pem})
	if err != nil {
		t.Fatalf("POST with ca_cert: %v", err)
	}
	if got != "anonymous" {
		t.Errorf("got %q, want a request without a client certificate", got)
	}
}

func TestTLSRefusedWithoutTrust(t *testing.T) {
	t.Parallel()
	ca := newAuthority(t, "private CA")
	srv, hits := tlsServer(t, ca, nil)
	clients := egress.NewClients(loopbackOnly)
	tests := []struct {
		name   string
		caCert string
	}{
		{"system roots", ""},
		{"another CA", newAuthority(t, "someone else").pem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := send(t, clients, webhook.Destination{URL: srv.URL, CACert: tt.caCert})
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Fatalf("POST: %v, want x509.UnknownAuthorityError", err)
			}
		})
	}
	t.Cleanup(func() {
		if n := hits.Load(); n != 0 {
			t.Errorf("server handled %d requests, want 0", n)
		}
	})
}

// TestTLSChecksHostname checks that a certificate from the trusted CA for
// another address is refused: CACert changes whom to trust, not whether
// to verify.
func TestTLSChecksHostname(t *testing.T) {
	t.Parallel()
	ca := newAuthority(t, "private CA")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "elsewhere", true, net.IPv4(192, 0, 2, 1)).pair}}
	srv.Config.ErrorLog = discardLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, err := send(t, egress.NewClients(loopbackOnly), webhook.Destination{URL: srv.URL, CACert: ca.pem})
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Fatalf("POST: %v, want x509.HostnameError", err)
	}
}

// TestTLSKeepsAddressCheck checks that a destination with its own TLS
// settings still goes through the dial-time guard.
func TestTLSKeepsAddressCheck(t *testing.T) {
	t.Parallel()
	ca := newAuthority(t, "private CA")
	srv, hits := tlsServer(t, ca, nil)
	client := ca.issue(t, "hookd", false)
	_, err := send(t, egress.NewClients(egress.Options{}), webhook.Destination{URL: srv.URL, CACert: ca.pem, ClientCert: client.certPEM, ClientKey: client.keyPEM})
	if !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Fatalf("POST: %v, want ErrForbiddenAddress", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server handled %d requests, want 0", n)
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	serverCA := newAuthority(t, "server CA")
	clientCA := newAuthority(t, "client CA")
	srv, _ := tlsServer(t, serverCA, clientCA.pool())
	clients := egress.NewClients(loopbackOnly)
	trusted := clientCA.issue(t, "hookd", false)
	stranger := newAuthority(t, "unknown client CA").issue(t, "intruder", false)

	t.Run("with client certificate", func(t *testing.T) {
		t.Parallel()
		got, err := send(t, clients, webhook.Destination{URL: srv.URL, CACert: serverCA.pem, ClientCert: trusted.certPEM, ClientKey: trusted.keyPEM})
		if err != nil {
			t.Fatalf("POST with client_cert: %v", err)
		}
		if got != "hookd" {
			t.Errorf("server saw client %q, want hookd", got)
		}
	})
	refused := map[string]webhook.Destination{
		"without client certificate":              {URL: srv.URL, CACert: serverCA.pem},
		"with a certificate the server distrusts": {URL: srv.URL, CACert: serverCA.pem, ClientCert: stranger.certPEM, ClientKey: stranger.keyPEM},
	}
	for name, d := range refused {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := send(t, clients, d)
			if err == nil {
				t.Fatalf("POST succeeded as %q, want the handshake refused", got)
			}
			if !strings.Contains(err.Error(), "tls") {
				t.Errorf("POST: %v, want a TLS error", err)
			}
		})
	}
}

func TestClientsShareTransports(t *testing.T) {
	t.Parallel()
	ca1, ca2 := newAuthority(t, "one"), newAuthority(t, "two")
	clients := egress.NewClients(egress.Options{})
	get := func(d webhook.Destination) *http.Client {
		t.Helper()
		c, err := clients.For(d)
		if err != nil {
			t.Fatalf("For: %v", err)
		}
		return c
	}
	plain := get(webhook.Destination{Name: "a", URL: "https://a.example/"})
	if get(webhook.Destination{Name: "b", URL: "https://b.example/"}) != plain {
		t.Error("two destinations without TLS settings got different clients")
	}
	withCA := get(webhook.Destination{Name: "c", CACert: ca1.pem})
	if withCA == plain {
		t.Error("a destination with ca_cert got the shared default client")
	}
	if get(webhook.Destination{Name: "d", CACert: ca1.pem}) != withCA {
		t.Error("two destinations with the same ca_cert got different clients")
	}
	if get(webhook.Destination{Name: "e", CACert: ca2.pem}) == withCA {
		t.Error("destinations with different ca_cert got the same client")
	}
	following := get(webhook.Destination{Name: "f", FollowRedirects: true})
	if following == plain {
		t.Error("FollowRedirects got the client that does not follow")
	}
	if get(webhook.Destination{Name: "g", FollowRedirects: true}) != following {
		t.Error("two destinations following redirects got different clients")
	}
}

func TestClientsForBadTLS(t *testing.T) {
	t.Parallel()
	_, err := egress.NewClients(egress.Options{}).For(webhook.Destination{CACert: "not PEM"})
	var fe *egress.FieldError
	if !errors.As(err, &fe) || fe.Field != "ca_cert" {
		t.Errorf("For with a bad ca_cert: %v, want a *FieldError for ca_cert", err)
	}
}

// tlsConfigFor is a server configuration with a certificate from ca for
// 127.0.0.1.
func tlsConfigFor(t *testing.T, ca *authority) *tls.Config {
	t.Helper()
	return &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "receiver", true, net.IPv4(127, 0, 0, 1)).pair}}
}
