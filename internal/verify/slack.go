package verify

import (
	"crypto/hmac"
	"errors"
	"net/http"
	"strings"
	"time"
)

// parseSlackSignature returns the signature bytes of an X-Slack-Signature
// value, "v0=" + 64 hex digits.
func parseSlackSignature(value string, size int) ([]byte, error) {
	encoded, ok := strings.CutPrefix(value, "v0=")
	if !ok {
		return nil, errors.New(`it does not start with "v0="`)
	}
	return decodeHex(encoded, size)
}

// verifySlack checks X-Slack-Signature, "v0=" + hex HMAC-SHA256 of
// "v0:<timestamp>:<body>" under the app's signing secret, with the
// timestamp from X-Slack-Request-Timestamp within the tolerance.
func (v *Verifier) verifySlack(h http.Header, body []byte, now time.Time) error {
	const sigPart, tsPart = HeaderSlackSignature + " header", HeaderSlackTimestamp + " header"
	value, ts := h.Get(HeaderSlackSignature), h.Get(HeaderSlackTimestamp)
	if value == "" {
		return fail(sigPart, ErrMissing, "")
	}
	if ts == "" {
		return fail(tsPart, ErrMissing, "")
	}
	unix, ok := parseUnix(ts)
	if !ok {
		return fail(tsPart, ErrMalformed, "it is not Unix seconds")
	}
	sig, err := parseSlackSignature(value, v.size)
	if err != nil {
		return fail(sigPart, ErrMalformed, err.Error())
	}
	if err := checkWindow(tsPart, unix, now, v.tolerance); err != nil {
		return err
	}
	if !hmac.Equal(sig, v.mac([]byte("v0:"+ts+":"), body)) {
		return fail(sigPart, ErrMismatch, "")
	}
	return nil
}
