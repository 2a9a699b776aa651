package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/hookd/hookd/internal/egress"
	"github.com/hookd/hookd/internal/webhook"
)

// Failure reasons are decided here, where the error is still a value and
// not yet text: the attempt stores both, the text for a person and the
// reason for counting and bulk replay (webhook.FailureReason).

// reasonedError is an attempt error that knows its failure reason. Its
// text is the wrapped error's, unchanged.
type reasonedError struct {
	reason webhook.FailureReason
	err    error
}

func (e *reasonedError) Error() string { return e.err.Error() }
func (e *reasonedError) Unwrap() error { return e.err }

// withReason attaches reason to err (nil stays nil).
func withReason(reason webhook.FailureReason, err error) error {
	if err == nil {
		return nil
	}
	return &reasonedError{reason: reason, err: err}
}

// transportReason classifies an error of http.Client.Do: the request did
// not get an answer. The order matters: a TLS handshake that timed out is
// a timeout, a refused SSRF address is never "network", and the specific
// syscall errors come before the generic *net.OpError that wraps them.
func transportReason(err error) webhook.FailureReason {
	var (
		dnsErr      *net.DNSError
		opErr       *net.OpError
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
	)
	switch {
	case err == nil:
		return webhook.ReasonNone
	case errors.Is(err, egress.ErrForbiddenAddress):
		return webhook.ReasonSSRFRefused
	case errors.Is(err, egress.ErrTooManyRedirects), errors.Is(err, egress.ErrRedirectDowngrade):
		return webhook.ReasonHTTP3xx
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return webhook.ReasonTimeout
	case errors.As(err, &dnsErr):
		return webhook.ReasonDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return webhook.ReasonConnectRefused
	case errors.Is(err, syscall.ECONNRESET):
		return webhook.ReasonConnectionReset
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert),
		errors.As(err, &verifyErr), errors.As(err, &recordErr), errors.As(err, &alertErr),
		// A TLS alert from the peer ("remote error: tls: bad certificate")
		// has no exported type outside QUIC: its text is all there is.
		strings.Contains(err.Error(), "tls: "):
		return webhook.ReasonTLS
	case errors.As(err, &opErr):
		return webhook.ReasonNetwork
	}
	return webhook.ReasonNetwork
}

// statusReason classifies an answer's status code; 2xx has none.
func statusReason(status int) webhook.FailureReason {
	switch {
	case status >= 200 && status < 300:
		return webhook.ReasonNone
	case status >= 300 && status < 400:
		return webhook.ReasonHTTP3xx
	case status >= 400 && status < 500:
		return webhook.ReasonHTTP4xx
	case status >= 500 && status < 600:
		return webhook.ReasonHTTP5xx
	}
	return webhook.ReasonHTTPOther
}

// reason classifies a send's outcome. An error wrapping
// webhook.ErrTransform is a transform error whatever else it wraps; an
// error that carries no reason (none of send's own) is "other".
func (r sendResult) reason() webhook.FailureReason {
	if r.err != nil {
		var re *reasonedError
		switch {
		case errors.Is(r.err, webhook.ErrTransform):
			return webhook.ReasonTransformError
		case errors.As(r.err, &re):
			return re.reason
		}
		return webhook.ReasonOther
	}
	return statusReason(r.status)
}
