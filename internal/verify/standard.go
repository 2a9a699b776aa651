package verify

import (
	"crypto/hmac"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// Svix, which the Standard Webhooks specification grew from, sends the
// same three headers named svix-id, svix-timestamp and svix-signature.
const (
	headerSvixID   = "svix-id"
	headerSvixTime = "svix-timestamp"
	headerSvixSig  = "svix-signature"
)

// parseStandardSignatures returns the base64 parts of the "v1,<base64>"
// entries of a webhook-signature value (delimited by spaces, as the
// specification says, and not by other white space; several during a
// secret rotation); entries of other versions, such as the asymmetric
// "v1a", are skipped.
func parseStandardSignatures(value string) []string {
	var out []string
	for entry := range strings.SplitSeq(value, " ") {
		version, sig, ok := strings.Cut(entry, ",")
		if ok && version == "v1" && sig != "" {
			out = append(out, sig)
		}
	}
	return out
}

// verifyStandard checks the Standard Webhooks headers: any v1 entry of
// webhook-signature must be the base64 HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>" under the whsec_ secret's
// decoded key, and webhook-timestamp within the tolerance. When no
// webhook-id header is present, the svix-* headers are read instead.
func (v *Verifier) verifyStandard(h http.Header, body []byte, now time.Time) error {
	idName, tsName, sigName := HeaderWebhookID, HeaderWebhookTime, HeaderWebhookSig
	if h.Get(idName) == "" && h.Get(headerSvixID) != "" {
		idName, tsName, sigName = headerSvixID, headerSvixTime, headerSvixSig
	}
	id, ts, value := h.Get(idName), h.Get(tsName), h.Get(sigName)
	for _, hv := range [][2]string{{idName, id}, {tsName, ts}, {sigName, value}} {
		if hv[1] == "" {
			return fail(hv[0]+" header", ErrMissing, "")
		}
	}
	unix, ok := parseUnix(ts)
	if !ok {
		return fail(tsName+" header", ErrMalformed, "it is not Unix seconds")
	}
	sigs := parseStandardSignatures(value)
	if len(sigs) == 0 {
		return fail(sigName+" header", ErrMalformed, `it has no "v1,<base64>" signature`)
	}
	if err := checkWindow(tsName+" header", unix, now, v.tolerance); err != nil {
		return err
	}
	want := []byte(base64.StdEncoding.EncodeToString(v.mac([]byte(id+"."+ts+"."), body)))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return fail(sigName+" header", ErrMismatch, "no v1 signature matches")
}
