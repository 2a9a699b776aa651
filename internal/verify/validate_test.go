package verify_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/verify"
	"github.com/hookd/hookd/internal/webhook"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // 24 bytes
	tests := []struct {
		name   string
		verify webhook.Verify
		// field is the field the error names, "" for valid.
		field string
		// reason is a part of the error's reason.
		reason string
	}{
		{name: "zero value", verify: webhook.Verify{}},
		{name: "none", verify: webhook.Verify{Type: "none"}},
		{name: "none with an allow-list", verify: webhook.Verify{AllowIPs: []string{"10.0.0.0/8", "::1"}}},
		{name: "github", verify: webhook.Verify{Type: "github", Secret: "s"}},
		{name: "stripe with tolerance", verify: webhook.Verify{Type: "stripe", Secret: "whsec_x", Tolerance: time.Minute}},
		{name: "shopify", verify: webhook.Verify{Type: "shopify", Secret: "s"}},
		{name: "slack", verify: webhook.Verify{Type: "slack", Secret: "s"}},
		{name: "standard-webhooks", verify: webhook.Verify{Type: "standard-webhooks", Secret: whsec}},
		{name: "standard-webhooks, unpadded 32 bytes", verify: webhook.Verify{Type: "standard-webhooks", Secret: "whsec_" + strings.Repeat("A", 43)}},
		{name: "hmac minimal", verify: webhook.Verify{Type: "hmac", Secret: "s", Header: "X-Sig"}},
		{name: "hmac full", verify: webhook.Verify{Type: "hmac", Secret: "s", Header: "X-Sig", Algorithm: "sha512", Encoding: "base64", Prefix: "sha512="}},
		{name: "token default header", verify: webhook.Verify{Type: "token", Secret: "s"}},
		{name: "token header", verify: webhook.Verify{Type: "token", Secret: "s", Header: "X-Gitlab-Token"}},
		{name: "token query", verify: webhook.Verify{Type: "token", Secret: "s", Query: "token"}},
		{name: "basic", verify: webhook.Verify{Type: "basic", Secret: "p", Username: "u"}},

		{name: "unknown type", verify: webhook.Verify{Type: "gitlab", Secret: "s"}, field: "verify.type", reason: `"gitlab" is not a supported scheme (none, github, stripe`},
		{name: "type in upper case", verify: webhook.Verify{Type: "GitHub", Secret: "s"}, field: "verify.type"},
		{name: "secret without a type", verify: webhook.Verify{Secret: "s"}, field: "verify.secret", reason: "does not apply to type none"},
		{name: "tolerance without a type", verify: webhook.Verify{Tolerance: time.Minute}, field: "verify.tolerance"},
		{name: "github without secret", verify: webhook.Verify{Type: "github"}, field: "verify.secret", reason: "is required for type github"},
		{name: "github with tolerance", verify: webhook.Verify{Type: "github", Secret: "s", Tolerance: time.Minute}, field: "verify.tolerance", reason: "does not apply to type github"},
		{name: "shopify with header", verify: webhook.Verify{Type: "shopify", Secret: "s", Header: "X"}, field: "verify.header"},
		{name: "stripe without secret", verify: webhook.Verify{Type: "stripe"}, field: "verify.secret"},
		{name: "stripe negative tolerance", verify: webhook.Verify{Type: "stripe", Secret: "s", Tolerance: -time.Second}, field: "verify.tolerance", reason: "between 0"},
		{name: "stripe tolerance of two days", verify: webhook.Verify{Type: "stripe", Secret: "s", Tolerance: 48 * time.Hour}, field: "verify.tolerance", reason: "24h"},
		{name: "slack with prefix", verify: webhook.Verify{Type: "slack", Secret: "s", Prefix: "v0="}, field: "verify.prefix"},
		{name: "standard-webhooks without prefix", verify: webhook.Verify{Type: "standard-webhooks", Secret: strings.TrimPrefix(whsec, "whsec_")}, field: "verify.secret", reason: `must start with "whsec_"`},
		{name: "standard-webhooks not base64", verify: webhook.Verify{Type: "standard-webhooks", Secret: "whsec_!!!"}, field: "verify.secret", reason: "base64"},
		{name: "standard-webhooks key too short", verify: webhook.Verify{Type: "standard-webhooks", Secret: "whsec_c2hvcnQ="}, field: "verify.secret", reason: "24 to 64 bytes, not 5"},
		{name: "standard-webhooks key too long", verify: webhook.Verify{Type: "standard-webhooks", Secret: "whsec_" + strings.Repeat("A", 88)}, field: "verify.secret", reason: "not 66"},
		{name: "hmac without header", verify: webhook.Verify{Type: "hmac", Secret: "s"}, field: "verify.header", reason: "is required for type hmac"},
		{name: "hmac without secret", verify: webhook.Verify{Type: "hmac", Header: "X-Sig"}, field: "verify.secret"},
		{name: "hmac bad header name", verify: webhook.Verify{Type: "hmac", Secret: "s", Header: "X Sig"}, field: "verify.header", reason: "not a valid header name"},
		{name: "hmac header with a colon", verify: webhook.Verify{Type: "hmac", Secret: "s", Header: "X-Sig:"}, field: "verify.header"},
		{name: "hmac md5", verify: webhook.Verify{Type: "hmac", Secret: "s", Header: "X", Algorithm: "md5"}, field: "verify.algorithm", reason: "sha1, sha256 or sha512"},
		{name: "hmac SHA256 in upper case", verify: webhook.Verify{Type: "hmac", Secret: "s", Header: "X", Algorithm: "SHA256"}, field: "verify.algorithm"},
		{name: "hmac base32", verify: webhook.Verify{Type: "hmac", Secret: "s", Header: "X", Encoding: "base32"}, field: "verify.encoding"},
		{name: "hmac with username", verify: webhook.Verify{Type: "hmac", Secret: "s", Header: "X", Username: "u"}, field: "verify.username"},
		{name: "hmac with query", verify: webhook.Verify{Type: "hmac", Secret: "s", Header: "X", Query: "q"}, field: "verify.query"},
		{name: "token without secret", verify: webhook.Verify{Type: "token", Header: "X"}, field: "verify.secret"},
		{name: "token header and query", verify: webhook.Verify{Type: "token", Secret: "s", Header: "X", Query: "q"}, field: "verify.query", reason: "together"},
		{name: "token with algorithm", verify: webhook.Verify{Type: "token", Secret: "s", Algorithm: "sha256"}, field: "verify.algorithm"},
		{name: "basic without username", verify: webhook.Verify{Type: "basic", Secret: "p"}, field: "verify.username", reason: "is required for type basic"},
		{name: "basic without password", verify: webhook.Verify{Type: "basic", Username: "u"}, field: "verify.secret"},
		{name: "basic username with a colon", verify: webhook.Verify{Type: "basic", Secret: "p", Username: "a:b"}, field: "verify.username"},
		{name: "basic with header", verify: webhook.Verify{Type: "basic", Secret: "p", Username: "u", Header: "X"}, field: "verify.header"},
		{name: "bad IP", verify: webhook.Verify{AllowIPs: []string{"10.0.0.0/8", "10.0.0.300"}}, field: "verify.allow_ips[1]", reason: `"10.0.0.300" is not an IP address or CIDR block`},
		{name: "bad prefix length", verify: webhook.Verify{Type: "github", Secret: "s", AllowIPs: []string{"10.0.0.0/33"}}, field: "verify.allow_ips[0]"},
		{name: "host name", verify: webhook.Verify{AllowIPs: []string{"github.com"}}, field: "verify.allow_ips[0]"},
		{name: "empty entry", verify: webhook.Verify{AllowIPs: []string{""}}, field: "verify.allow_ips[0]"},
		{name: "zone", verify: webhook.Verify{AllowIPs: []string{"fe80::1%eth0"}}, field: "verify.allow_ips[0]", reason: "zone"},
		{name: "short IPv4-mapped block", verify: webhook.Verify{AllowIPs: []string{"::ffff:0:0/80"}}, field: "verify.allow_ips[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := verify.Validate(tt.verify)
			_, newErr := verify.New(tt.verify)
			if tt.field == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate = %v, New = %v; want nil", err, newErr)
				}
				return
			}
			var fe *verify.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, webhook.ErrInvalid) {
				t.Fatalf("Validate = %v (%T), want a *FieldError wrapping ErrInvalid", err, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Msg, tt.reason) {
				t.Errorf("Validate = %q, want field %s, reason with %q", err, tt.field, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), "invalid input: "+tt.field+": ") {
				t.Errorf("Validate = %q, want it to start with %q", err, "invalid input: "+tt.field+": ")
			}
			if tt.verify.Secret != "" && len(tt.verify.Secret) > 2 && strings.Contains(err.Error(), tt.verify.Secret) {
				t.Errorf("Validate = %q shows the secret", err)
			}
			if newErr == nil || newErr.Error() != err.Error() {
				t.Errorf("New = %v, want the error of Validate", newErr)
			}
		})
	}
}

func ExampleValidate() {
	err := verify.Validate(webhook.Verify{Type: webhook.VerifyHMAC, Secret: "s"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, webhook.ErrInvalid))
	// Output:
	// invalid input: verify.header: is required for type hmac
	// true
}
