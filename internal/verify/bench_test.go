package verify_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/hookd/hookd/internal/verify"
	"github.com/hookd/hookd/internal/webhook"
)

// benchCases are typical configurations, with a request each would accept.
func benchCases(body []byte) []struct {
	name   string
	verify webhook.Verify
	header map[string]string
} {
	ts := unix(now)
	whsec := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	allow := []string{"192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32", "10.0.0.0/8"}
	return []struct {
		name   string
		verify webhook.Verify
		header map[string]string
	}{
		{"none", webhook.Verify{}, nil},
		{"github", webhook.Verify{Type: "github", Secret: "s"}, map[string]string{"X-Hub-Signature-256": "sha256=" + hexMAC(sha256.New, "s", string(body))}},
		{"stripe", webhook.Verify{Type: "stripe", Secret: "whsec_s"}, map[string]string{"Stripe-Signature": "t=" + ts + ",v1=" + hexMAC(sha256.New, "whsec_s", ts, ".", string(body))}},
		{"standard-webhooks", webhook.Verify{Type: "standard-webhooks", Secret: whsec}, map[string]string{
			"webhook-id": "msg_1", "webhook-timestamp": ts,
			"webhook-signature": "v1," + b64MAC(sha256.New, "0123456789abcdef0123456789abcdef", "msg_1.", ts, ".", string(body)),
		}},
		{"basic", webhook.Verify{Type: "basic", Username: "u", Secret: "p"}, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))}},
		{"allow-list of 4", webhook.Verify{AllowIPs: allow}, nil},
		{"stripe and allow-list of 4", webhook.Verify{Type: "stripe", Secret: "whsec_s", AllowIPs: allow}, map[string]string{"Stripe-Signature": "t=" + ts + ",v1=" + hexMAC(sha256.New, "whsec_s", ts, ".", string(body))}},
	}
}

// BenchmarkNew measures compiling a source's settings, which ingest does
// per request; compare with BenchmarkVerify.
func BenchmarkNew(b *testing.B) {
	for _, bc := range benchCases(nil) {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := verify.New(bc.verify); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures checking one request with a 1 KiB body.
func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	for _, bc := range benchCases(body) {
		b.Run(bc.name, func(b *testing.B) {
			v, err := verify.New(bc.verify)
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/webhook/s", nil)
			r.RemoteAddr = "10.1.2.3:" + strconv.Itoa(4567)
			for k, val := range bc.header {
				r.Header.Set(k, val)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(r, body, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
