package app_test

// End-to-end tests of the outbound protections as a destination configures
// them: secret rotation, a private CA with mutual TLS, redirects.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// TestSecretRotation: while a destination's previous secret is within its
// grace, every delivery carries two signatures, and receivers that know
// only the old or only the new secret both verify it with the Standard
// Webhooks reference library; once the grace is over, only the new
// secret signs.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	newSec, oldSec := newSecret(t), newSecret(t)
	during := startReceiver(t, receiver.Always(http.StatusOK))
	after := startReceiver(t, receiver.Always(http.StatusOK))
	rotating := testDestination("rotating", during.URL(), newSec, "github")
	rotating.PreviousSecret, rotating.PreviousSecretUntil = oldSec, time.Now().Add(time.Hour)
	rotated := testDestination("rotated", after.URL(), newSec, "github")
	rotated.PreviousSecret, rotated.PreviousSecretUntil = oldSec, time.Now().Add(-time.Second)
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{rotating, rotated}
	})
	body := []byte(`{"rotation":true}`)
	ta.mustAccept(t, "github", body, jsonHeader())
	ta.waitTerminal(t, 10*time.Second, 2, webhook.StatusSuccess)

	verify := func(a receiver.Arrival, secret string) error {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatalf("NewWebhook: %v", err)
		}
		return wh.Verify(a.Body, a.Header)
	}
	a := during.Arrivals()[0]
	if n := len(strings.Fields(a.Header.Get("webhook-signature"))); n != 2 {
		t.Errorf("during the grace: %d signatures in %q, want 2", n, a.Header.Get("webhook-signature"))
	}
	for name, secret := range map[string]string{"old": oldSec, "new": newSec} {
		if err := verify(a, secret); err != nil {
			t.Errorf("during the grace, a receiver knowing only the %s secret refuses: %v", name, err)
		}
	}
	a = after.Arrivals()[0]
	if n := len(strings.Fields(a.Header.Get("webhook-signature"))); n != 1 {
		t.Errorf("after the grace: %d signatures in %q, want 1", n, a.Header.Get("webhook-signature"))
	}
	if err := verify(a, newSec); err != nil {
		t.Errorf("after the grace, the new secret refuses: %v", err)
	}
	if err := verify(a, oldSec); err == nil {
		t.Error("after the grace, the old secret still verifies")
	}
}

// TestTLSDestinations: a receiver behind a private CA that requires client
// certificates gets deliveries from a destination with ca_cert,
// client_cert and client_key; without the client certificate, or without
// the CA, the attempt fails with the TLS error.
func TestTLSDestinations(t *testing.T) {
	t.Parallel()
	serverCA, clientCA := newTestCA(t, "receiver CA"), newTestCA(t, "hookd clients CA")
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	srv := httptest.NewUnstartedServer(rcv.Receiver)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCA.issue(t, "receiver", true).pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.pool,
	}
	srv.Config.ErrorLog = discardLogger() // the refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := clientCA.issue(t, "hookd", false)

	mtls := testDestination("mtls", srv.URL, newSecret(t), "github")
	mtls.CACert, mtls.ClientCert, mtls.ClientKey = serverCA.pem, client.certPEM, client.keyPEM
	noClientCert := testDestination("no-client-cert", srv.URL, newSecret(t), "github")
	noClientCert.CACert = serverCA.pem
	noCA := testDestination("no-ca", srv.URL, newSecret(t), "github")
	noCA.ClientCert, noCA.ClientKey = client.certPEM, client.keyPEM
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 0
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{mtls, noClientCert, noCA}
	})
	acc := ta.mustAccept(t, "github", []byte(`{"tls":1}`), jsonHeader())
	ta.records.waitFor(t, 15*time.Second, "3 deliveries to end", func(rs []attemptRecord) bool { return countTerminal(rs) >= 3 })

	byDest := ta.deliveriesByDestination(t, acc.ID)
	if d := byDest["mtls"]; d.Status != webhook.StatusSuccess {
		t.Errorf("mtls: status %s (%s), want success", d.Status, d.LastError)
	}
	wantErr := map[string]string{"no-client-cert": "tls", "no-ca": "x509"}
	for name, want := range wantErr {
		d := byDest[name]
		attempts := ta.attempts(t, d.ID)
		if d.Status != webhook.StatusPermanentFailure || len(attempts) != 1 || !strings.Contains(attempts[0].Error, want) {
			t.Errorf("%s: status %s, attempts %+v; want permanent_failure after one attempt failing with a %s error", name, d.Status, attempts, want)
		}
	}
	if n := len(rcv.Arrivals()); n != 1 {
		t.Errorf("receiver handled %d requests, want 1 (from mtls)", n)
	}
}

// TestFollowRedirectsDestination: with follow_redirects the same signed
// POST reaches the new location; without it the 307 is a failed attempt.
func TestFollowRedirectsDestination(t *testing.T) {
	t.Parallel()
	target := startReceiver(t, receiver.Always(http.StatusOK))
	moved := startShapedReceiver(t, receiver.Always(http.StatusTemporaryRedirect), func(h http.Header) []byte {
		h.Set("Location", target.URL()+"/new-home")
		return nil
	})
	secret := newSecret(t)
	follows := testDestination("follows", moved.URL(), secret, "github")
	follows.FollowRedirects = true
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 0
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{follows, testDestination("stays", moved.URL(), secret, "github")}
	})
	body := []byte(`{"moved":true}`)
	acc := ta.mustAccept(t, "github", body, jsonHeader())
	ta.records.waitFor(t, 15*time.Second, "2 deliveries to end", func(rs []attemptRecord) bool { return countTerminal(rs) >= 2 })

	byDest := ta.deliveriesByDestination(t, acc.ID)
	if d := byDest["follows"]; d.Status != webhook.StatusSuccess {
		t.Fatalf("follows: status %s (%s), want success", d.Status, d.LastError)
	}
	arrivals := target.Arrivals()
	if len(arrivals) != 1 {
		t.Fatalf("redirect target got %d requests, want 1", len(arrivals))
	}
	checkArrival(t, "follows", arrivals[0], byDest["follows"].ID, body, "application/json", secret)

	d := byDest["stays"]
	attempts := ta.attempts(t, d.ID)
	if d.Status != webhook.StatusPermanentFailure || len(attempts) != 1 || attempts[0].StatusCode != http.StatusTemporaryRedirect ||
		!strings.Contains(attempts[0].Error, "follow_redirects is off") {
		t.Errorf("stays: status %s, attempts %+v; want one failed 307 naming follow_redirects", d.Status, attempts)
	}
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
	pool *x509.CertPool
}

type testLeaf struct {
	certPEM, keyPEM string
	pair            tls.Certificate
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue makes a certificate for a server on 127.0.0.1, or for a client.
func (ca *testCA) issue(t *testing.T, cn string, server bool) testLeaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l := testLeaf{
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})),
	}
	if l.pair, err = tls.X509KeyPair([]byte(l.certPEM), []byte(l.keyPEM)); err != nil {
		t.Fatal(err)
	}
	return l
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
