package verify

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// Validate checks a source's verification settings and returns a
// *FieldError (wrapping webhook.ErrInvalid) naming the first field at
// fault, such as "verify.header: is required for type hmac". It accepts:
//
//   - type: "" or "none" (no scheme), or one of webhook.VerifyTypes.
//   - secret: required by every type but none. For standard-webhooks it
//     must be "whsec_" followed by base64 of 24 to 64 bytes (the
//     specification's key size); for the others it is used as given.
//   - tolerance: stripe, slack and standard-webhooks only; not negative;
//     0 means DefaultTolerance.
//   - header: hmac (required) and token (default Authorization); a valid
//     header name.
//   - query: token only, instead of header (not both).
//   - algorithm: hmac only; sha1, sha256 (default) or sha512.
//   - encoding: hmac only; hex (default) or base64.
//   - prefix: hmac only; optional.
//   - username: basic only; required, without ':'.
//   - allow_ips: any type, none included; each an IPv4 or IPv6 address or
//     CIDR block, without a zone.
//
// A field that the type does not use is refused ("does not apply to type
// github") rather than ignored, so that a mistyped type or a misplaced
// setting does not silently leave a source less protected than intended.
func Validate(v webhook.Verify) error {
	_, err := validate(v)
	return err
}

// maxTolerance bounds a replay window: a signed request a day old is not a
// retry any provider makes.
const maxTolerance = 24 * time.Hour

// validate is Validate, returning the parsed allow-list for New.
func validate(v webhook.Verify) ([]netip.Prefix, error) {
	typ := v.Type
	if typ == "" {
		typ = "none"
	}
	uses, known := fieldsOf[typ]
	if !known {
		return nil, &FieldError{Field: "verify.type", Msg: fmt.Sprintf("%q is not a supported scheme (%s)", v.Type, strings.Join(webhook.VerifyTypes, ", "))}
	}
	set := [...]bool{
		fieldSecret:    v.Secret != "",
		fieldHeader:    v.Header != "",
		fieldQuery:     v.Query != "",
		fieldAlgorithm: v.Algorithm != "",
		fieldEncoding:  v.Encoding != "",
		fieldPrefix:    v.Prefix != "",
		fieldUsername:  v.Username != "",
		fieldTolerance: v.Tolerance != 0,
	}
	for f, isSet := range set {
		if isSet && uses&(1<<f) == 0 {
			return nil, &FieldError{Field: "verify." + fieldNames[f], Msg: "does not apply to type " + typ}
		}
	}
	if typ != "none" && v.Secret == "" {
		return nil, &FieldError{Field: "verify.secret", Msg: "is required for type " + typ}
	}
	if v.Tolerance < 0 || v.Tolerance > maxTolerance {
		return nil, &FieldError{Field: "verify.tolerance", Msg: "must be between 0 (the default, 5m) and 24h"}
	}
	switch typ {
	case webhook.VerifyStandardWebhooks:
		if _, err := decodeStandardSecret(v.Secret); err != nil {
			return nil, &FieldError{Field: "verify.secret", Msg: err.Error()}
		}
	case webhook.VerifyHMAC:
		if v.Header == "" {
			return nil, &FieldError{Field: "verify.header", Msg: "is required for type hmac"}
		}
		switch v.Algorithm {
		case "", "sha1", "sha256", "sha512":
		default:
			return nil, &FieldError{Field: "verify.algorithm", Msg: fmt.Sprintf("%q must be sha1, sha256 or sha512", v.Algorithm)}
		}
		switch v.Encoding {
		case "", "hex", "base64":
		default:
			return nil, &FieldError{Field: "verify.encoding", Msg: fmt.Sprintf("%q must be hex or base64", v.Encoding)}
		}
	case webhook.VerifyToken:
		if v.Header != "" && v.Query != "" {
			return nil, &FieldError{Field: "verify.query", Msg: "cannot be set together with verify.header: the token is read from one place"}
		}
	case webhook.VerifyBasic:
		if v.Username == "" {
			return nil, &FieldError{Field: "verify.username", Msg: "is required for type basic"}
		}
		if strings.Contains(v.Username, ":") {
			return nil, &FieldError{Field: "verify.username", Msg: "must not contain ':'"}
		}
	}
	if v.Header != "" && !validHeaderName(v.Header) {
		return nil, &FieldError{Field: "verify.header", Msg: fmt.Sprintf("%q is not a valid header name", v.Header)}
	}
	allow, i, err := parseAllowList(v.AllowIPs)
	if err != nil {
		return nil, &FieldError{Field: fmt.Sprintf("verify.allow_ips[%d]", i), Msg: err.Error()}
	}
	return allow, nil
}

// The optional fields, in the order they are checked, so errors are stable.
const (
	fieldSecret = iota
	fieldHeader
	fieldQuery
	fieldAlgorithm
	fieldEncoding
	fieldPrefix
	fieldUsername
	fieldTolerance
)

var fieldNames = [...]string{"secret", "header", "query", "algorithm", "encoding", "prefix", "username", "tolerance"}

// fieldsOf holds, as a bit set over the field constants, the fields each
// type uses; its keys are the known types.
var fieldsOf = map[string]uint{
	"none":                         0,
	webhook.VerifyGitHub:           1 << fieldSecret,
	webhook.VerifyShopify:          1 << fieldSecret,
	webhook.VerifyStripe:           1<<fieldSecret | 1<<fieldTolerance,
	webhook.VerifySlack:            1<<fieldSecret | 1<<fieldTolerance,
	webhook.VerifyStandardWebhooks: 1<<fieldSecret | 1<<fieldTolerance,
	webhook.VerifyHMAC:             1<<fieldSecret | 1<<fieldHeader | 1<<fieldAlgorithm | 1<<fieldEncoding | 1<<fieldPrefix,
	webhook.VerifyToken:            1<<fieldSecret | 1<<fieldHeader | 1<<fieldQuery,
	webhook.VerifyBasic:            1<<fieldSecret | 1<<fieldUsername,
}

// decodeStandardSecret returns the HMAC key of a Standard Webhooks secret:
// "whsec_" then base64 (padded or not) of 24 to 64 bytes.
func decodeStandardSecret(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, standardSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("must start with %q (a Standard Webhooks secret)", standardSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("must be %q followed by base64", standardSecretPrefix)
	}
	if len(key) < standardMinKeyBytes || len(key) > standardMaxKeyBytes {
		return nil, fmt.Errorf("must encode %d to %d bytes, not %d", standardMinKeyBytes, standardMaxKeyBytes, len(key))
	}
	return key, nil
}

// Standard Webhooks secret format.
const (
	standardSecretPrefix = "whsec_"
	standardMinKeyBytes  = 24
	standardMaxKeyBytes  = 64
)

// validHeaderName reports whether s is an HTTP token (RFC 9110 field name).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
