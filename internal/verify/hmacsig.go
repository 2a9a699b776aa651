package verify

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// verifyGitHub checks X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of
// the body. GitHub's older SHA-1 X-Hub-Signature is not accepted.
func (v *Verifier) verifyGitHub(h http.Header, body []byte) error {
	const part = HeaderGitHub + " header"
	value := h.Get(HeaderGitHub)
	if value == "" {
		return fail(part, ErrMissing, "")
	}
	encoded, ok := strings.CutPrefix(value, "sha256=")
	if !ok {
		return fail(part, ErrMalformed, `it does not start with "sha256="`)
	}
	sig, err := decodeHex(encoded, v.size)
	if err != nil {
		return fail(part, ErrMalformed, err.Error())
	}
	if !hmac.Equal(sig, v.mac(body)) {
		return fail(part, ErrMismatch, "")
	}
	return nil
}

// verifyShopify checks X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the
// body.
func (v *Verifier) verifyShopify(h http.Header, body []byte) error {
	const part = HeaderShopify + " header"
	value := h.Get(HeaderShopify)
	if value == "" {
		return fail(part, ErrMissing, "")
	}
	sig, err := decodeBase64(value, v.size)
	if err != nil {
		return fail(part, ErrMalformed, err.Error())
	}
	if !hmac.Equal(sig, v.mac(body)) {
		return fail(part, ErrMismatch, "")
	}
	return nil
}

// verifyHMAC checks the generic scheme: the configured header holds the
// configured prefix, then the HMAC of the body, hex or base64.
func (v *Verifier) verifyHMAC(h http.Header, body []byte) error {
	part := v.header + " header"
	value := h.Get(v.header)
	if value == "" {
		return fail(part, ErrMissing, "")
	}
	encoded, ok := strings.CutPrefix(value, v.prefix)
	if !ok {
		return fail(part, ErrMalformed, fmt.Sprintf("it does not start with %q", v.prefix))
	}
	var sig []byte
	var err error
	if v.encoding == "base64" {
		sig, err = decodeBase64(encoded, v.size)
	} else {
		sig, err = decodeHex(encoded, v.size)
	}
	if err != nil {
		return fail(part, ErrMalformed, err.Error())
	}
	if !hmac.Equal(sig, v.mac(body)) {
		return fail(part, ErrMismatch, "")
	}
	return nil
}

// decodeHex decodes a hex signature (either case) of size bytes.
func decodeHex(s string, size int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("the signature is not hex")
	}
	if len(b) != size {
		return nil, fmt.Errorf("the signature is %d bytes, want %d", len(b), size)
	}
	return b, nil
}

// decodeBase64 decodes a standard base64 signature, padded or not, of
// size bytes.
func decodeBase64(s string, size int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("the signature is not base64")
	}
	if len(b) != size {
		return nil, fmt.Errorf("the signature is %d bytes, want %d", len(b), size)
	}
	return b, nil
}
