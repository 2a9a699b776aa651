package egress

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/hookd/hookd/internal/webhook"
)

// TLS is a destination's own TLS settings, all PEM. The zero value means
// the system's trusted roots and no client certificate. Certificates are
// always verified: there is deliberately no way to turn that off, since a
// private CA (CACert) covers every legitimate reason to.
type TLS struct {
	// CACert replaces the system's trusted roots: one or more
	// CERTIFICATE blocks.
	CACert string
	// ClientCert (the certificate, optionally followed by its
	// intermediates) and ClientKey authenticate hookd to the receiver
	// (mutual TLS); both or neither.
	ClientCert string
	ClientKey  string
}

// TLSOf returns a destination's TLS settings.
func TLSOf(d webhook.Destination) TLS {
	return TLS{CACert: d.CACert, ClientCert: d.ClientCert, ClientKey: d.ClientKey}
}

// IsZero reports whether t asks for nothing beyond the defaults.
func (t TLS) IsZero() bool { return t == TLS{} }

// FieldError is invalid TLS material in one destination field ("ca_cert",
// "client_key"): the one field error type every validator shares.
type FieldError = webhook.FieldError

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ValidateCACert checks a ca_cert value: empty, or PEM holding one or more
// parseable CERTIFICATE blocks and nothing else. Errors are *FieldError.
func ValidateCACert(caPEM string) error {
	_, err := parseCACert(caPEM)
	return err
}

// ValidateClientCert checks a client_cert and client_key pair: both empty,
// or a PEM certificate (chain) and the PEM private key that matches it.
// Errors are *FieldError naming the field at fault.
func ValidateClientCert(certPEM, keyPEM string) error {
	_, err := parseClientCert(certPEM, keyPEM)
	return err
}

// ValidateTLS checks all of a destination's TLS fields and joins what is
// wrong with each (errors.Join of *FieldError); nil when all are usable.
func ValidateTLS(d webhook.Destination) error {
	return errors.Join(ValidateCACert(d.CACert), ValidateClientCert(d.ClientCert, d.ClientKey))
}

// config builds the tls.Config of settings t, or nil for the zero value.
func (t TLS) config() (*tls.Config, error) {
	if t.IsZero() {
		return nil, nil
	}
	roots, err := parseCACert(t.CACert)
	if err != nil {
		return nil, err
	}
	pair, err := parseClientCert(t.ClientCert, t.ClientKey)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if pair != nil {
		// Sent whenever the server asks, even when the server's list of
		// acceptable CAs does not name its issuer: the receiver then says
		// why it refuses, instead of hookd silently sending nothing.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return pair, nil }
	}
	return cfg, nil
}

// parseCACert returns the pool of certificates in caPEM, or nil when it is
// empty (the system's roots).
func parseCACert(caPEM string) (*x509.CertPool, error) {
	if strings.TrimSpace(caPEM) == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	rest := []byte(caPEM)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			return nil, invalid("ca_cert", "PEM block %d is %q, want CERTIFICATE", n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, invalid("ca_cert", "certificate %d: %v", n, err)
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		return nil, invalid("ca_cert", "no PEM certificate found")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, invalid("ca_cert", "text after the last PEM certificate is not PEM")
	}
	return pool, nil
}

// parseClientCert returns the client certificate with its key, or nil when
// both are empty.
func parseClientCert(certPEM, keyPEM string) (*tls.Certificate, error) {
	hasCert, hasKey := strings.TrimSpace(certPEM) != "", strings.TrimSpace(keyPEM) != ""
	switch {
	case !hasCert && !hasKey:
		return nil, nil
	case !hasKey:
		return nil, invalid("client_key", "required with client_cert")
	case !hasCert:
		return nil, invalid("client_cert", "required with client_key")
	}
	var certs [][]byte
	rest := []byte(certPEM)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, invalid("client_cert", "holds a private key: put it in client_key")
			}
			return nil, invalid("client_cert", "PEM block %d is %q, want CERTIFICATE", len(certs)+1, block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, invalid("client_cert", "certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, block.Bytes)
	}
	if len(certs) == 0 {
		return nil, invalid("client_cert", "no PEM certificate found")
	}
	keyBlock, _ := pem.Decode([]byte(keyPEM))
	if keyBlock == nil {
		return nil, invalid("client_key", "no PEM private key found")
	}
	if !strings.HasSuffix(keyBlock.Type, "PRIVATE KEY") {
		return nil, invalid("client_key", "PEM block is %q, want a PRIVATE KEY", keyBlock.Type)
	}
	if strings.Contains(keyBlock.Type, "ENCRYPTED") || keyBlock.Headers["Proc-Type"] != "" {
		return nil, invalid("client_key", "is encrypted: give the key without a passphrase")
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		// The key parsed as PEM; what is left is its form or a mismatch.
		if strings.Contains(err.Error(), "does not match") {
			return nil, invalid("client_key", "does not match client_cert")
		}
		return nil, invalid("client_key", "%s", strings.TrimPrefix(err.Error(), "tls: "))
	}
	return &pair, nil
}
