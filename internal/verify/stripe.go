package verify

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"
)

// stripeSignature is a parsed Stripe-Signature header.
type stripeSignature struct {
	// timestamp is t= as sent (it is signed as sent) and its value.
	timestamp string
	unix      int64
	// v1 holds every v1= signature, still hex encoded.
	v1 []string
}

// parseStripeSignature parses "t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]":
// comma-separated key=value elements, exactly one t, at least one v1;
// other keys (v0, the test-mode scheme, future schemes) are ignored, as
// Stripe's libraries do. Empty elements and spaces around them are
// tolerated.
func parseStripeSignature(header string) (stripeSignature, error) {
	var s stripeSignature
	seenT := false
	for elem := range strings.SplitSeq(header, ",") {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue
		}
		key, value, ok := strings.Cut(elem, "=")
		if !ok {
			return s, errors.New("an element is not key=value")
		}
		switch key {
		case "t":
			if seenT {
				return s, errors.New("it has more than one t=")
			}
			seenT = true
			unix, ok := parseUnix(value)
			if !ok {
				return s, errors.New("t= is not Unix seconds")
			}
			s.timestamp, s.unix = value, unix
		case "v1":
			s.v1 = append(s.v1, value)
		}
	}
	if !seenT {
		return s, errors.New("it has no t= timestamp")
	}
	if len(s.v1) == 0 {
		return s, errors.New("it has no v1= signature")
	}
	return s, nil
}

// verifyStripe checks Stripe-Signature: any v1 must be the hex
// HMAC-SHA256 of "<t>.<body>" under the endpoint's signing secret (the
// whole "whsec_…" string, used as is), and t within the tolerance.
func (v *Verifier) verifyStripe(h http.Header, body []byte, now time.Time) error {
	const part = HeaderStripe + " header"
	value := h.Get(HeaderStripe)
	if value == "" {
		return fail(part, ErrMissing, "")
	}
	sig, err := parseStripeSignature(value)
	if err != nil {
		return fail(part, ErrMalformed, err.Error())
	}
	if err := checkWindow(part, sig.unix, now, v.tolerance); err != nil {
		return err
	}
	want := v.mac([]byte(sig.timestamp), []byte{'.'}, body)
	for _, s := range sig.v1 {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fail(part, ErrMismatch, "no v1 signature matches")
}
