package egress_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/egress"
	"github.com/hookd/hookd/internal/webhook"
)

func TestValidateCACert(t *testing.T) {
	t.Parallel()
	ca, other := newAuthority(t, "one"), newAuthority(t, "two")
	key := ca.issue(t, "x", false).keyPEM
	block, _ := pem.Decode([]byte(ca.pem))
	corrupt := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes[:len(block.Bytes)/2]}))
	tests := []struct {
		name string
		pem  string
		want string // "" for valid
	}{
		{"empty: system roots", "", ""},
		{"one certificate", ca.pem, ""},
		{"a bundle", ca.pem + other.pem, ""},
		{"surrounded by blank lines", "\n" + ca.pem + "\n\n", ""},
		{"text before the PEM", "# our CA\n" + ca.pem, ""},
		{"not PEM", "hello", "ca_cert: no PEM certificate found"},
		{"a private key", key, `ca_cert: PEM block 1 is "PRIVATE KEY", want CERTIFICATE`},
		{"a key after the certificate", ca.pem + key, `ca_cert: PEM block 2 is "PRIVATE KEY"`},
		{"truncated DER", corrupt, "ca_cert: certificate 1: x509:"},
		{"text after the last certificate", ca.pem + "garbage", "ca_cert: text after the last PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkFieldError(t, egress.ValidateCACert(tt.pem), tt.want)
		})
	}
}

func TestValidateClientCert(t *testing.T) {
	t.Parallel()
	ca := newAuthority(t, "client CA")
	a, b := ca.issue(t, "a", false), ca.issue(t, "b", false)
	ecKey := func() string {
		block, _ := pem.Decode([]byte(a.keyPEM))
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}()
	encrypted := "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
	tests := []struct {
		name      string
		cert, key string
		want      string
	}{
		{"neither", "", "", ""},
		{"pair, PKCS #8 key", a.certPEM, a.keyPEM, ""},
		{"pair, SEC 1 key", a.certPEM, ecKey, ""},
		{"certificate with its chain", a.certPEM + ca.pem, a.keyPEM, ""},
		{"certificate only", a.certPEM, "", "client_key: required with client_cert"},
		{"key only", "", a.keyPEM, "client_cert: required with client_key"},
		{"keys swapped", a.certPEM, b.keyPEM, "client_key: does not match client_cert"},
		{"cert and key exchanged", a.keyPEM, a.certPEM, "client_cert: holds a private key"},
		{"cert not PEM", "cert", a.keyPEM, "client_cert: no PEM certificate found"},
		{"key not PEM", a.certPEM, "key", "client_key: no PEM private key found"},
		{"key is a certificate", a.certPEM, ca.pem, `client_key: PEM block is "CERTIFICATE"`},
		{"encrypted key", a.certPEM, encrypted, "client_key: is encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := egress.ValidateClientCert(tt.cert, tt.key)
			checkFieldError(t, err, tt.want)
			if err != nil && (strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), strings.Split(a.keyPEM, "\n")[1])) {
				t.Errorf("error %q quotes the PEM", err)
			}
		})
	}
}

func TestValidateTLSJoinsFields(t *testing.T) {
	t.Parallel()
	err := egress.ValidateTLS(webhook.Destination{CACert: "x", ClientKey: "y"})
	if !errors.Is(err, webhook.ErrInvalid) {
		t.Fatalf("ValidateTLS = %v, want ErrInvalid", err)
	}
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *egress.FieldError
		if errors.As(e, &fe) {
			fields = append(fields, fe.Field)
		}
	}
	if strings.Join(fields, ",") != "ca_cert,client_cert" {
		t.Errorf("fields at fault %v, want [ca_cert client_cert]", fields)
	}
	if err := egress.ValidateTLS(webhook.Destination{Name: "plain"}); err != nil {
		t.Errorf("ValidateTLS of no settings = %v, want nil", err)
	}
}

func checkFieldError(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("err = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, webhook.ErrInvalid) {
		t.Errorf("err = %v, want one wrapping webhook.ErrInvalid", err)
	}
	var fe *egress.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v (%T), want *egress.FieldError", err, err)
	}
	if !strings.HasPrefix(err.Error(), "invalid input: "+want) {
		t.Errorf("err = %q, want it to start with %q", err, want)
	}
}

// FuzzValidateTLS feeds arbitrary text to the PEM parsing behind the
// validators and Clients.For: it must never panic, and what it accepts
// Clients.For must accept too.
func FuzzValidateTLS(f *testing.F) {
	f.Add("", "", "")
	f.Add("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "", "")
	f.Add("", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	f.Add("-----BEGIN X-----\n\n-----END X-----\ntrailing", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAA==\n-----END RSA PRIVATE KEY-----\n", "x")
	clients := egress.NewClients(egress.Options{})
	f.Fuzz(func(t *testing.T, ca, cert, key string) {
		d := webhook.Destination{CACert: ca, ClientCert: cert, ClientKey: key}
		verr := egress.ValidateTLS(d)
		if verr != nil && !errors.Is(verr, webhook.ErrInvalid) {
			t.Fatalf("ValidateTLS = %v, not ErrInvalid", verr)
		}
		if _, err := clients.For(d); (err == nil) != (verr == nil) {
			t.Fatalf("ValidateTLS = %v but For = %v", verr, err)
		}
	})
}
