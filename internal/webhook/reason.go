package webhook

import (
	"errors"
	"fmt"
)

// FailureReason classifies why an attempt failed, in a small fixed
// vocabulary, so that dead letters can be counted and replayed by cause
// ("every delivery that died of DNS") without parsing error texts, which
// are for people and may change. An attempt that succeeded has none ("").
// A delivery carries its last attempt's reason as LastReason.
type FailureReason string

// The failure reasons. New ones may be added; none is ever renamed, since
// stored attempts and API clients keep them.
const (
	// ReasonNone is the reason of a successful attempt, and of a delivery
	// not tried yet.
	ReasonNone FailureReason = ""
	// ReasonDNS: the destination's host name did not resolve.
	ReasonDNS FailureReason = "dns"
	// ReasonConnectRefused: nothing listened at the destination's port.
	ReasonConnectRefused FailureReason = "connect_refused"
	// ReasonConnectionReset: the receiver closed the connection abruptly.
	ReasonConnectionReset FailureReason = "connection_reset"
	// ReasonTLS: the TLS handshake failed (certificate not trusted, wrong
	// host name, expired, protocol mismatch, client certificate refused).
	ReasonTLS FailureReason = "tls"
	// ReasonTimeout: no complete answer within the destination's timeout.
	ReasonTimeout FailureReason = "timeout"
	// ReasonNetwork: any other transport failure.
	ReasonNetwork FailureReason = "network"
	// ReasonHTTP3xx: a redirect that was not followed.
	ReasonHTTP3xx FailureReason = "http_3xx"
	// ReasonHTTP4xx: the receiver answered 4xx.
	ReasonHTTP4xx FailureReason = "http_4xx"
	// ReasonHTTP5xx: the receiver answered 5xx.
	ReasonHTTP5xx FailureReason = "http_5xx"
	// ReasonHTTPOther: an answer outside 2xx-5xx (1xx, or a nonstandard
	// code).
	ReasonHTTPOther FailureReason = "http_other"
	// ReasonSSRFRefused: the destination resolved to an address outgoing
	// requests may not reach (loopback, private, link-local, ...).
	ReasonSSRFRefused FailureReason = "ssrf_refused"
	// ReasonTransformError: the destination's transform failed on this
	// event, so nothing was sent.
	ReasonTransformError FailureReason = "transform_error"
	// ReasonDestinationRemoved: the destination is no longer configured.
	ReasonDestinationRemoved FailureReason = "destination_removed"
	// ReasonConfig: the destination's own settings made the request
	// impossible (a bad URL, an unusable secret or TLS material).
	ReasonConfig FailureReason = "config"
	// ReasonOther: a failure none of the above describes.
	ReasonOther FailureReason = "other"
)

// FailureReasons lists every failure reason (not ReasonNone), in the
// order the API shows them: transport first, then answers, then hookd's
// own refusals.
var FailureReasons = []FailureReason{
	ReasonDNS, ReasonConnectRefused, ReasonConnectionReset, ReasonTLS, ReasonTimeout, ReasonNetwork,
	ReasonHTTP3xx, ReasonHTTP4xx, ReasonHTTP5xx, ReasonHTTPOther,
	ReasonSSRFRefused, ReasonTransformError, ReasonDestinationRemoved, ReasonConfig, ReasonOther,
}

// Valid reports whether r is one of FailureReasons.
func (r FailureReason) Valid() bool {
	for _, known := range FailureReasons {
		if r == known {
			return true
		}
	}
	return false
}

// ParseFailureReason returns the reason named s, or an error wrapping
// ErrInvalid.
func ParseFailureReason(s string) (FailureReason, error) {
	r := FailureReason(s)
	if !r.Valid() {
		return "", fmt.Errorf("%w: unknown failure reason %q", ErrInvalid, s)
	}
	return r, nil
}

// ErrTransform marks an attempt that failed because the destination's
// transform could not be applied to the event. Code that transforms a
// request before it is sent returns an error wrapping it
// (fmt.Errorf("transform %q: %w: %v", name, webhook.ErrTransform, cause)),
// and the delivery engine records the attempt with ReasonTransformError
// instead of a transport reason; the error's text is what the attempt
// shows.
var ErrTransform = errors.New("transform failed")
