package verify_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/internal/verify"
	"github.com/hookd/hookd/internal/webhook"
)

// Signatures in these tests are computed here, with crypto/hmac or the
// Standard Webhooks reference library, never with the package under test;
// where a provider publishes a worked example, it is checked too.

// now is the receiver's clock in every case that does not set its own.
var now = time.Unix(1_700_000_000, 0)

func mac(h func() hash.Hash, key string, parts ...string) []byte {
	m := hmac.New(h, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func hexMAC(h func() hash.Hash, key string, parts ...string) string {
	return hex.EncodeToString(mac(h, key, parts...))
}

func b64MAC(h func() hash.Hash, key string, parts ...string) string {
	return base64.StdEncoding.EncodeToString(mac(h, key, parts...))
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// tcase is one request against one configuration. want is nil (accepted)
// or the kind of failure (verify.ErrMissing, …).
type tcase struct {
	name   string
	verify webhook.Verify
	header map[string]string
	target string // request URI; default /webhook/s
	remote string // default 192.0.2.10:4567
	body   string
	now    time.Time // default now
	want   error
	// part, when set, must appear in the error (the header at fault).
	part string
}

// run runs the cases; no error may show any of the secrets and good
// signatures in mustNotLeak.
func run(t *testing.T, mustNotLeak []string, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := verify.New(tc.verify)
			if err != nil {
				t.Fatalf("New(%+v): %v", tc.verify, err)
			}
			target := tc.target
			if target == "" {
				target = "/webhook/s"
			}
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(tc.body))
			r.RemoteAddr = "192.0.2.10:4567"
			if tc.remote != "" {
				r.RemoteAddr = tc.remote
			}
			for k, val := range tc.header {
				r.Header.Set(k, val)
			}
			at := tc.now
			if at.IsZero() {
				at = now
			}
			err = v.Verify(r, []byte(tc.body), at)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, webhook.ErrUnauthorized) {
				t.Fatalf("Verify: %v, want %v wrapping %v", err, tc.want, webhook.ErrUnauthorized)
			}
			var ve *verify.Error
			if !errors.As(err, &ve) {
				t.Fatalf("Verify: %T, want *verify.Error", err)
			}
			if tc.part != "" && !strings.Contains(err.Error(), tc.part) {
				t.Errorf("Verify: %q does not name %q", err, tc.part)
			}
			for _, s := range mustNotLeak {
				if s != "" && strings.Contains(err.Error(), s) {
					t.Errorf("Verify: %q shows a secret or signature %q", err, s)
				}
			}
		})
	}
}

func TestGitHub(t *testing.T) {
	t.Parallel()
	// docs.github.com, "Validating webhook deliveries".
	const docSecret, docBody = "It's a Secret to Everybody", "Hello, World!"
	const docSig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := "sha256=" + hexMAC(sha256.New, docSecret, docBody); got != docSig {
		t.Fatalf("test helper disagrees with GitHub's example: %s", got)
	}
	secrets := []string{docSecret, strings.TrimPrefix(docSig, "sha256=")}
	gh := webhook.Verify{Type: webhook.VerifyGitHub, Secret: docSecret}
	sig := func(s string) map[string]string { return map[string]string{"X-Hub-Signature-256": s} }
	hexPart := strings.TrimPrefix(docSig, "sha256=")
	run(t, secrets, []tcase{
		{name: "GitHub's example", verify: gh, header: sig(docSig), body: docBody},
		{name: "upper-case hex", verify: gh, header: sig("sha256=" + strings.ToUpper(hexPart)), body: docBody},
		{name: "lower-case header name", verify: gh, header: map[string]string{"x-hub-signature-256": docSig}, body: docBody},
		{name: "wrong secret", verify: webhook.Verify{Type: "github", Secret: "It's a Secret to Nobody"}, header: sig(docSig), body: docBody, want: verify.ErrMismatch, part: "X-Hub-Signature-256"},
		{name: "body changed", verify: gh, header: sig(docSig), body: docBody + " ", want: verify.ErrMismatch},
		{name: "empty body", verify: gh, header: sig(docSig), body: "", want: verify.ErrMismatch},
		{name: "missing header", verify: gh, body: docBody, want: verify.ErrMissing, part: "X-Hub-Signature-256 header is missing"},
		{name: "old SHA-1 header only", verify: gh, header: map[string]string{"X-Hub-Signature": "sha1=" + hexMAC(sha1.New, docSecret, docBody)}, body: docBody, want: verify.ErrMissing},
		{name: "no prefix", verify: gh, header: sig(hexPart), body: docBody, want: verify.ErrMalformed},
		{name: "wrong prefix", verify: gh, header: sig("sha1=" + hexPart), body: docBody, want: verify.ErrMalformed},
		{name: "prefix only", verify: gh, header: sig("sha256="), body: docBody, want: verify.ErrMalformed},
		{name: "truncated, even", verify: gh, header: sig(docSig[:len(docSig)-2]), body: docBody, want: verify.ErrMalformed},
		{name: "truncated, odd", verify: gh, header: sig(docSig[:len(docSig)-1]), body: docBody, want: verify.ErrMalformed},
		{name: "extra hex", verify: gh, header: sig(docSig + "00"), body: docBody, want: verify.ErrMalformed},
		{name: "base64 instead of hex", verify: gh, header: sig("sha256=" + b64MAC(sha256.New, docSecret, docBody)), body: docBody, want: verify.ErrMalformed},
		{name: "not hex", verify: gh, header: sig("sha256=" + strings.Repeat("zz", 32)), body: docBody, want: verify.ErrMalformed},
	})
}

func TestStripe(t *testing.T) {
	t.Parallel()
	const secret, body = "whsec_stripe_test_0123456789", `{"id":"evt_1","type":"charge.succeeded"}`
	ts := unix(now)
	good := hexMAC(sha256.New, secret, ts, ".", body)
	other := hexMAC(sha256.New, "whsec_other", ts, ".", body)
	secrets := []string{secret, good}
	st := webhook.Verify{Type: webhook.VerifyStripe, Secret: secret}
	sig := func(s string) map[string]string { return map[string]string{"Stripe-Signature": s} }
	at := func(d time.Duration) (string, string) {
		t := unix(now.Add(d))
		return t, hexMAC(sha256.New, secret, t, ".", body)
	}
	old, oldSig := at(-5*time.Minute - time.Second)
	edge, edgeSig := at(-5 * time.Minute)
	future, futureSig := at(5*time.Minute + time.Second)
	soon, soonSig := at(5 * time.Minute)
	run(t, secrets, []tcase{
		{name: "valid", verify: st, header: sig("t=" + ts + ",v1=" + good), body: body},
		{name: "valid with v0 and an unknown scheme", verify: st, header: sig("t=" + ts + ",v1=" + good + ",v0=" + other + ",v9=x"), body: body},
		{name: "several v1, the second valid (secret rotation)", verify: st, header: sig("t=" + ts + ",v1=" + other + ",v1=" + good), body: body},
		{name: "several v1, none valid", verify: st, header: sig("t=" + ts + ",v1=" + other + ",v1=" + other), body: body, want: verify.ErrMismatch},
		{name: "the valid signature under v0 only", verify: st, header: sig("t=" + ts + ",v0=" + good), body: body, want: verify.ErrMalformed, part: "no v1="},
		{name: "spaces between elements", verify: st, header: sig("t=" + ts + ", v1=" + good), body: body},
		{name: "upper-case hex", verify: st, header: sig("t=" + ts + ",v1=" + strings.ToUpper(good)), body: body},
		{name: "wrong secret", verify: st, header: sig("t=" + ts + ",v1=" + other), body: body, want: verify.ErrMismatch, part: "Stripe-Signature"},
		{name: "body changed", verify: st, header: sig("t=" + ts + ",v1=" + good), body: body + "\n", want: verify.ErrMismatch},
		{name: "timestamp changed", verify: st, header: sig("t=" + unix(now.Add(time.Second)) + ",v1=" + good), body: body, want: verify.ErrMismatch},
		{name: "truncated signature", verify: st, header: sig("t=" + ts + ",v1=" + good[:40]), body: body, want: verify.ErrMismatch},
		{name: "not hex", verify: st, header: sig("t=" + ts + ",v1=" + strings.Repeat("g", 64)), body: body, want: verify.ErrMismatch},
		{name: "missing header", verify: st, body: body, want: verify.ErrMissing, part: "Stripe-Signature header is missing"},
		{name: "no timestamp", verify: st, header: sig("v1=" + good), body: body, want: verify.ErrMalformed, part: "no t="},
		{name: "no signature", verify: st, header: sig("t=" + ts), body: body, want: verify.ErrMalformed},
		{name: "two timestamps", verify: st, header: sig("t=" + ts + ",t=" + ts + ",v1=" + good), body: body, want: verify.ErrMalformed},
		{name: "timestamp not a number", verify: st, header: sig("t=yesterday,v1=" + good), body: body, want: verify.ErrMalformed},
		{name: "negative timestamp", verify: st, header: sig("t=-" + ts + ",v1=" + good), body: body, want: verify.ErrMalformed},
		{name: "element without =", verify: st, header: sig("t=" + ts + ",v1" + good), body: body, want: verify.ErrMalformed},
		{name: "semicolons", verify: st, header: sig("t=" + ts + ";v1=" + good), body: body, want: verify.ErrMalformed},
		{name: "stale", verify: st, header: sig("t=" + old + ",v1=" + oldSig), body: body, want: verify.ErrExpired, part: "old"},
		{name: "at the tolerance", verify: st, header: sig("t=" + edge + ",v1=" + edgeSig), body: body},
		{name: "in the future", verify: st, header: sig("t=" + future + ",v1=" + futureSig), body: body, want: verify.ErrExpired, part: "future"},
		{name: "at the tolerance, ahead", verify: st, header: sig("t=" + soon + ",v1=" + soonSig), body: body},
		{name: "stale for 5m, fine for a 10m tolerance", verify: webhook.Verify{Type: "stripe", Secret: secret, Tolerance: 10 * time.Minute}, header: sig("t=" + old + ",v1=" + oldSig), body: body},
		{name: "fresh for 5m, stale for 1s", verify: webhook.Verify{Type: "stripe", Secret: secret, Tolerance: time.Second}, header: sig("t=" + soon + ",v1=" + soonSig), body: body, want: verify.ErrExpired},
	})
}

func TestShopify(t *testing.T) {
	t.Parallel()
	const secret, body = "shpss_0123456789abcdef", `{"id":820982911946154500,"email":"jon@example.com"}`
	good := b64MAC(sha256.New, secret, body)
	secrets := []string{secret, good}
	sh := webhook.Verify{Type: webhook.VerifyShopify, Secret: secret}
	sig := func(s string) map[string]string { return map[string]string{"X-Shopify-Hmac-Sha256": s} }
	run(t, secrets, []tcase{
		{name: "valid", verify: sh, header: sig(good), body: body},
		{name: "valid, unpadded", verify: sh, header: sig(strings.TrimRight(good, "=")), body: body},
		{name: "wrong secret", verify: sh, header: sig(b64MAC(sha256.New, "other", body)), body: body, want: verify.ErrMismatch, part: "X-Shopify-Hmac-Sha256"},
		{name: "body changed", verify: sh, header: sig(good), body: body[1:], want: verify.ErrMismatch},
		{name: "missing", verify: sh, body: body, want: verify.ErrMissing},
		{name: "hex instead of base64", verify: sh, header: sig(hexMAC(sha256.New, secret, body)), body: body, want: verify.ErrMalformed},
		{name: "truncated", verify: sh, header: sig(good[:20]), body: body, want: verify.ErrMalformed},
		{name: "URL-safe alphabet", verify: sh, header: sig(strings.NewReplacer("+", "-", "/", "_").Replace(good) + "-_"), body: body, want: verify.ErrMalformed},
		{name: "with a prefix", verify: sh, header: sig("sha256=" + good), body: body, want: verify.ErrMalformed},
	})
}

func TestSlack(t *testing.T) {
	t.Parallel()
	// api.slack.com, "Verifying requests from Slack": a slash command.
	const (
		docSecret = "8f742231b10e8888abcd99yyyzzz85a5"
		docTS     = "1531420618"
		docBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
		docSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	)
	if got := "v0=" + hexMAC(sha256.New, docSecret, "v0:", docTS, ":", docBody); got != docSig {
		t.Fatalf("test helper disagrees with Slack's example: %s", got)
	}
	docNow := time.Unix(1531420618, 0).Add(time.Minute)
	const secret, body = "slack-signing-secret", `{"type":"event_callback","event":{"type":"app_mention"}}`
	ts := unix(now)
	good := "v0=" + hexMAC(sha256.New, secret, "v0:", ts, ":", body)
	secrets := []string{docSecret, secret, strings.TrimPrefix(docSig, "v0="), strings.TrimPrefix(good, "v0=")}
	sl := webhook.Verify{Type: webhook.VerifySlack, Secret: secret}
	hdr := func(sig, ts string) map[string]string {
		h := map[string]string{}
		if sig != "" {
			h["X-Slack-Signature"] = sig
		}
		if ts != "" {
			h["X-Slack-Request-Timestamp"] = ts
		}
		return h
	}
	signAt := func(d time.Duration) map[string]string {
		ts := unix(now.Add(d))
		return hdr("v0="+hexMAC(sha256.New, secret, "v0:", ts, ":", body), ts)
	}
	run(t, secrets, []tcase{
		{name: "Slack's example", verify: webhook.Verify{Type: "slack", Secret: docSecret}, header: hdr(docSig, docTS), body: docBody, now: docNow},
		{name: "Slack's example, an hour later", verify: webhook.Verify{Type: "slack", Secret: docSecret}, header: hdr(docSig, docTS), body: docBody, now: docNow.Add(time.Hour), want: verify.ErrExpired, part: "X-Slack-Request-Timestamp"},
		{name: "valid", verify: sl, header: hdr(good, ts), body: body},
		{name: "wrong secret", verify: sl, header: hdr("v0="+hexMAC(sha256.New, "other", "v0:", ts, ":", body), ts), body: body, want: verify.ErrMismatch, part: "X-Slack-Signature"},
		{name: "timestamp changed", verify: sl, header: hdr(good, unix(now.Add(time.Second))), body: body, want: verify.ErrMismatch},
		{name: "body changed", verify: sl, header: hdr(good, ts), body: body + " ", want: verify.ErrMismatch},
		{name: "missing signature", verify: sl, header: hdr("", ts), body: body, want: verify.ErrMissing, part: "X-Slack-Signature"},
		{name: "missing timestamp", verify: sl, header: hdr(good, ""), body: body, want: verify.ErrMissing, part: "X-Slack-Request-Timestamp"},
		{name: "timestamp with a fraction", verify: sl, header: hdr(good, ts+".5"), body: body, want: verify.ErrMalformed, part: "X-Slack-Request-Timestamp"},
		{name: "timestamp far too long", verify: sl, header: hdr(good, strings.Repeat("9", 40)), body: body, want: verify.ErrMalformed},
		{name: "wrong version prefix", verify: sl, header: hdr("v1="+strings.TrimPrefix(good, "v0="), ts), body: body, want: verify.ErrMalformed, part: "X-Slack-Signature"},
		{name: "no prefix", verify: sl, header: hdr(strings.TrimPrefix(good, "v0="), ts), body: body, want: verify.ErrMalformed},
		{name: "truncated", verify: sl, header: hdr(good[:30], ts), body: body, want: verify.ErrMalformed},
		{name: "base64 signature", verify: sl, header: hdr("v0="+b64MAC(sha256.New, secret, "v0:", ts, ":", body), ts), body: body, want: verify.ErrMalformed},
		{name: "stale", verify: sl, header: signAt(-6 * time.Minute), body: body, want: verify.ErrExpired},
		{name: "future", verify: sl, header: signAt(6 * time.Minute), body: body, want: verify.ErrExpired},
		{name: "4 minutes old", verify: sl, header: signAt(-4 * time.Minute), body: body},
	})
}

func TestStandardWebhooks(t *testing.T) {
	t.Parallel()
	// The specification's example, as in its reference libraries' tests.
	const (
		docSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		docID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		docTS     = "1614265330"
		docBody   = `{"test": 2432232314}`
		docSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	docNow := time.Unix(1614265330, 0)
	ref := func(t *testing.T, secret, id string, ts time.Time, body string) string {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		s, err := wh.Sign(id, ts, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := ref(t, docSecret, docID, docNow, docBody); got != docSig {
		t.Fatalf("reference library disagrees with the example: %s", got)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	otherSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	const id, body = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", `{"type":"invoice.paid","data":{"id":1}}`
	ts := unix(now)
	good := ref(t, secret, id, now, body)
	other := ref(t, otherSecret, id, now, body)
	secrets := []string{docSecret, strings.TrimPrefix(docSig, "v1,"), secret, strings.TrimPrefix(secret, "whsec_"), strings.TrimPrefix(good, "v1,")}
	sw := webhook.Verify{Type: webhook.VerifyStandardWebhooks, Secret: secret}
	hdr := func(id, ts, sig string) map[string]string {
		h := map[string]string{}
		for k, v := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig} {
			if v != "" {
				h[k] = v
			}
		}
		return h
	}
	signAt := func(d time.Duration) map[string]string {
		at := now.Add(d)
		return hdr(id, unix(at), ref(t, secret, id, at, body))
	}
	run(t, secrets, []tcase{
		{name: "the specification's example", verify: webhook.Verify{Type: "standard-webhooks", Secret: docSecret}, header: hdr(docID, docTS, docSig), body: docBody, now: docNow},
		{name: "valid", verify: sw, header: hdr(id, ts, good), body: body},
		{name: "several signatures, the last valid", verify: sw, header: hdr(id, ts, other+" "+good), body: body},
		{name: "several signatures, the first valid", verify: sw, header: hdr(id, ts, good+" "+other), body: body},
		{name: "an asymmetric v1a entry beside", verify: sw, header: hdr(id, ts, "v1a,"+strings.TrimPrefix(other, "v1,")+" "+good), body: body},
		{name: "extra spaces", verify: sw, header: hdr(id, ts, other+"   "+good), body: body},
		{name: "svix headers", verify: sw, header: map[string]string{"svix-id": id, "svix-timestamp": ts, "svix-signature": good}, body: body},
		{name: "several signatures, none valid", verify: sw, header: hdr(id, ts, other+" "+other), body: body, want: verify.ErrMismatch, part: "webhook-signature"},
		{name: "only v1a", verify: sw, header: hdr(id, ts, "v1a,"+strings.TrimPrefix(good, "v1,")), body: body, want: verify.ErrMalformed, part: "webhook-signature"},
		{name: "no version", verify: sw, header: hdr(id, ts, strings.TrimPrefix(good, "v1,")), body: body, want: verify.ErrMalformed},
		{name: "v1 with nothing after the comma", verify: sw, header: hdr(id, ts, "v1,"), body: body, want: verify.ErrMalformed},
		{name: "wrong secret", verify: sw, header: hdr(id, ts, other), body: body, want: verify.ErrMismatch},
		{name: "id changed", verify: sw, header: hdr(id+"x", ts, good), body: body, want: verify.ErrMismatch},
		{name: "timestamp changed", verify: sw, header: hdr(id, unix(now.Add(-time.Second)), good), body: body, want: verify.ErrMismatch},
		{name: "body changed", verify: sw, header: hdr(id, ts, good), body: body + "\n", want: verify.ErrMismatch},
		{name: "truncated signature", verify: sw, header: hdr(id, ts, good[:20]), body: body, want: verify.ErrMismatch},
		{name: "unpadded signature", verify: sw, header: hdr(id, ts, strings.TrimRight(good, "=")), body: body, want: verify.ErrMismatch},
		{name: "hex signature", verify: sw, header: hdr(id, ts, "v1,"+hexMAC(sha256.New, "0123456789abcdef0123456789abcdef", id, ".", ts, ".", body)), body: body, want: verify.ErrMismatch},
		{name: "missing id", verify: sw, header: hdr("", ts, good), body: body, want: verify.ErrMissing, part: "webhook-id"},
		{name: "missing timestamp", verify: sw, header: hdr(id, "", good), body: body, want: verify.ErrMissing, part: "webhook-timestamp"},
		{name: "missing signature", verify: sw, header: hdr(id, ts, ""), body: body, want: verify.ErrMissing, part: "webhook-signature"},
		{name: "timestamp in milliseconds", verify: sw, header: hdr(id, strconv.FormatInt(now.UnixMilli(), 10), good), body: body, want: verify.ErrExpired},
		{name: "timestamp with a sign", verify: sw, header: hdr(id, "+"+ts, good), body: body, want: verify.ErrMalformed, part: "webhook-timestamp"},
		{name: "stale", verify: sw, header: signAt(-5*time.Minute - time.Second), body: body, want: verify.ErrExpired, part: "webhook-timestamp"},
		{name: "future", verify: sw, header: signAt(5*time.Minute + time.Second), body: body, want: verify.ErrExpired},
		{name: "at the tolerance", verify: sw, header: signAt(-5 * time.Minute), body: body},
	})
}

func TestHMAC(t *testing.T) {
	t.Parallel()
	const secret, body = "generic-secret", `{"event":"build.finished"}`
	secrets := []string{secret, hexMAC(sha256.New, secret, body), b64MAC(sha512.New, secret, body)}
	def := webhook.Verify{Type: webhook.VerifyHMAC, Secret: secret, Header: "X-Signature"}
	gitea := webhook.Verify{Type: "hmac", Secret: secret, Header: "X-Signature", Algorithm: "sha1", Prefix: "sha1="}
	b512 := webhook.Verify{Type: "hmac", Secret: secret, Header: "X-Signature", Algorithm: "sha512", Encoding: "base64"}
	sig := func(s string) map[string]string { return map[string]string{"X-Signature": s} }
	run(t, secrets, []tcase{
		{name: "sha256 hex, the defaults", verify: def, header: sig(hexMAC(sha256.New, secret, body)), body: body},
		{name: "sha1 hex with a prefix", verify: gitea, header: sig("sha1=" + hexMAC(sha1.New, secret, body)), body: body},
		{name: "sha512 base64", verify: b512, header: sig(b64MAC(sha512.New, secret, body)), body: body},
		{name: "header name in any case", verify: webhook.Verify{Type: "hmac", Secret: secret, Header: "x-signature"}, header: sig(hexMAC(sha256.New, secret, body)), body: body},
		{name: "wrong secret", verify: def, header: sig(hexMAC(sha256.New, "other", body)), body: body, want: verify.ErrMismatch, part: "X-Signature header"},
		{name: "wrong algorithm", verify: def, header: sig(hexMAC(sha512.New, secret, body)[:64]), body: body, want: verify.ErrMismatch},
		{name: "sha1 signature where sha256 is configured", verify: def, header: sig(hexMAC(sha1.New, secret, body)), body: body, want: verify.ErrMalformed},
		{name: "missing", verify: def, body: body, want: verify.ErrMissing, part: "X-Signature header"},
		{name: "missing prefix", verify: gitea, header: sig(hexMAC(sha1.New, secret, body)), body: body, want: verify.ErrMalformed, part: `"sha1="`},
		{name: "wrong prefix", verify: gitea, header: sig("sha256=" + hexMAC(sha1.New, secret, body)), body: body, want: verify.ErrMalformed},
		{name: "unexpected prefix", verify: def, header: sig("sha256=" + hexMAC(sha256.New, secret, body)), body: body, want: verify.ErrMalformed},
		{name: "hex where base64 is configured", verify: b512, header: sig(hexMAC(sha512.New, secret, body)), body: body, want: verify.ErrMalformed},
		{name: "base64 where hex is configured", verify: def, header: sig(b64MAC(sha256.New, secret, body)), body: body, want: verify.ErrMalformed},
		{name: "truncated", verify: def, header: sig(hexMAC(sha256.New, secret, body)[:62]), body: body, want: verify.ErrMalformed},
	})
}

func TestToken(t *testing.T) {
	t.Parallel()
	const token = "tok_9f8e7d6c5b4a"
	secrets := []string{token}
	auth := webhook.Verify{Type: webhook.VerifyToken, Secret: token}
	custom := webhook.Verify{Type: "token", Secret: token, Header: "X-Gitlab-Token"}
	query := webhook.Verify{Type: "token", Secret: token, Query: "token"}
	h := func(k, v string) map[string]string { return map[string]string{k: v} }
	run(t, secrets, []tcase{
		{name: "Bearer in Authorization", verify: auth, header: h("Authorization", "Bearer "+token)},
		{name: "bearer in lower case", verify: auth, header: h("Authorization", "bearer "+token)},
		{name: "bare token in Authorization", verify: auth, header: h("Authorization", token)},
		{name: "wrong token", verify: auth, header: h("Authorization", "Bearer tok_wrong"), want: verify.ErrMismatch, part: "Authorization header"},
		{name: "token prefix", verify: auth, header: h("Authorization", "Bearer "+token[:5]), want: verify.ErrMismatch},
		{name: "token and more", verify: auth, header: h("Authorization", "Bearer "+token+"x"), want: verify.ErrMismatch},
		{name: "Basic scheme", verify: auth, header: h("Authorization", "Basic "+token), want: verify.ErrMismatch},
		{name: "Bearer alone", verify: auth, header: h("Authorization", "Bearer"), want: verify.ErrMissing},
		{name: "missing", verify: auth, want: verify.ErrMissing, part: "Authorization header is missing"},
		{name: "custom header", verify: custom, header: h("X-Gitlab-Token", token)},
		{name: "custom header keeps Bearer", verify: custom, header: h("X-Gitlab-Token", "Bearer "+token), want: verify.ErrMismatch},
		{name: "custom header missing, token in Authorization", verify: custom, header: h("Authorization", "Bearer "+token), want: verify.ErrMissing, part: "X-Gitlab-Token"},
		{name: "query parameter", verify: query, target: "/webhook/s?token=" + token},
		{name: "query parameter among others", verify: query, target: "/webhook/s?a=1&token=" + token + "&b=2"},
		{name: "query parameter wrong", verify: query, target: "/webhook/s?token=nope", want: verify.ErrMismatch, part: `query parameter "token"`},
		{name: "query parameter missing, token in a header", verify: query, header: h("Authorization", "Bearer "+token), want: verify.ErrMissing},
		{name: "query parameter of another name", verify: query, target: "/webhook/s?tok=" + token, want: verify.ErrMissing},
	})
}

func TestBasic(t *testing.T) {
	t.Parallel()
	const user, pass = "provider", "correct horse battery staple"
	secrets := []string{pass, base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	b := webhook.Verify{Type: webhook.VerifyBasic, Username: user, Secret: pass}
	basic := func(u, p string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))}
	}
	run(t, secrets, []tcase{
		{name: "valid", verify: b, header: basic(user, pass)},
		{name: "scheme in lower case", verify: b, header: map[string]string{"Authorization": "basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}},
		{name: "wrong password", verify: b, header: basic(user, pass+"!"), want: verify.ErrMismatch, part: "Authorization header"},
		{name: "wrong user", verify: b, header: basic("someone", pass), want: verify.ErrMismatch},
		{name: "empty password", verify: b, header: basic(user, ""), want: verify.ErrMismatch},
		{name: "password in the user name", verify: b, header: basic(user+":"+pass, ""), want: verify.ErrMismatch},
		{name: "missing", verify: b, want: verify.ErrMissing},
		{name: "Bearer", verify: b, header: map[string]string{"Authorization": "Bearer " + pass}, want: verify.ErrMalformed},
		{name: "not base64", verify: b, header: map[string]string{"Authorization": "Basic !!!"}, want: verify.ErrMalformed},
		{name: "no colon", verify: b, header: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user))}, want: verify.ErrMalformed},
	})
}

func TestAllowIPs(t *testing.T) {
	t.Parallel()
	const secret, body = "gh", `{}`
	good := map[string]string{"X-Hub-Signature-256": "sha256=" + hexMAC(sha256.New, secret, body)}
	bad := map[string]string{"X-Hub-Signature-256": "sha256=" + hexMAC(sha256.New, "other", body)}
	only := func(ips ...string) webhook.Verify { return webhook.Verify{AllowIPs: ips} }
	gh := webhook.Verify{Type: "github", Secret: secret, AllowIPs: []string{"192.0.2.0/24"}}
	secrets := []string{hexMAC(sha256.New, secret, body)}
	run(t, secrets, []tcase{
		{name: "no list allows any", verify: only(), remote: "203.0.113.9:1"},
		{name: "inside an IPv4 block", verify: only("192.0.2.0/24"), remote: "192.0.2.77:5000"},
		{name: "outside an IPv4 block", verify: only("192.0.2.0/24"), remote: "192.0.3.1:5000", want: verify.ErrForbidden, part: "client address 192.0.3.1"},
		{name: "a single address", verify: only("198.51.100.7"), remote: "198.51.100.7:1"},
		{name: "next to a single address", verify: only("198.51.100.7"), remote: "198.51.100.8:1", want: verify.ErrForbidden},
		{name: "second entry matches", verify: only("10.0.0.0/8", "198.51.100.0/24"), remote: "198.51.100.200:1"},
		{name: "IPv6 block", verify: only("2001:db8::/32"), remote: "[2001:db8:1::5]:443"},
		{name: "IPv6 outside", verify: only("2001:db8::/32"), remote: "[2001:db9::5]:443", want: verify.ErrForbidden},
		{name: "IPv6 with a zone", verify: only("fe80::/10"), remote: "[fe80::1%eth0]:443"},
		{name: "IPv4-mapped client, IPv4 list", verify: only("192.0.2.0/24"), remote: "[::ffff:192.0.2.1]:1"},
		{name: "IPv4 client, IPv4-mapped list", verify: only("::ffff:192.0.2.0/120"), remote: "192.0.2.1:1"},
		{name: "IPv4 client, IPv6 list", verify: only("::/0"), remote: "192.0.2.1:1", want: verify.ErrForbidden},
		{name: "address without port", verify: only("192.0.2.0/24"), remote: "192.0.2.1"},
		{name: "unparseable address", verify: only("0.0.0.0/0"), remote: "@", want: verify.ErrForbidden},
		{name: "X-Forwarded-For is not trusted", verify: only("192.0.2.0/24"), remote: "203.0.113.1:1",
			header: map[string]string{"X-Forwarded-For": "192.0.2.1", "X-Real-Ip": "192.0.2.1", "Forwarded": "for=192.0.2.1"}, want: verify.ErrForbidden},
		{name: "with a scheme: allowed and signed", verify: gh, remote: "192.0.2.1:1", header: good, body: body},
		{name: "with a scheme: allowed, bad signature", verify: gh, remote: "192.0.2.1:1", header: bad, body: body, want: verify.ErrMismatch},
		{name: "with a scheme: signed, not allowed", verify: gh, remote: "192.0.3.1:1", header: good, body: body, want: verify.ErrForbidden},
	})
}

func TestCheckAddrBeforeBody(t *testing.T) {
	t.Parallel()
	v, err := verify.New(webhook.Verify{Type: "github", Secret: "s", AllowIPs: []string{"192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckAddr("192.0.2.1:80"); err != nil {
		t.Errorf("CheckAddr(allowed): %v", err)
	}
	err = v.CheckAddr("192.0.2.2:80")
	if !errors.Is(err, verify.ErrForbidden) || !errors.Is(err, webhook.ErrUnauthorized) {
		t.Errorf("CheckAddr(other) = %v, want ErrForbidden and ErrUnauthorized", err)
	}
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Detail() != "client address 192.0.2.2 is not allowed" {
		t.Errorf("CheckAddr(other) detail = %v", err)
	}
}

func TestCredentialHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		verify webhook.Verify
		want   string
	}{
		{webhook.Verify{}, ""},
		{webhook.Verify{Type: "github", Secret: "s"}, ""},
		{webhook.Verify{Type: "hmac", Secret: "s", Header: "x-sig"}, ""},
		{webhook.Verify{Type: "token", Secret: "s"}, "Authorization"},
		{webhook.Verify{Type: "token", Secret: "s", Header: "x-gitlab-token"}, "X-Gitlab-Token"},
		{webhook.Verify{Type: "token", Secret: "s", Query: "t"}, ""},
		{webhook.Verify{Type: "basic", Secret: "s", Username: "u"}, "Authorization"},
	}
	for _, tt := range tests {
		v, err := verify.New(tt.verify)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.CredentialHeader(); got != tt.want {
			t.Errorf("CredentialHeader(%+v) = %q, want %q", tt.verify, got, tt.want)
		}
	}
}

func TestNoneAcceptsAnything(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"", "none"} {
		v, err := verify.New(webhook.Verify{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/webhook/s", nil)
		if err := v.Verify(r, []byte("anything"), time.Time{}); err != nil {
			t.Errorf("type %q: Verify = %v, want nil", typ, err)
		}
		if v.Scheme() != "" {
			t.Errorf("type %q: Scheme() = %q, want empty", typ, v.Scheme())
		}
	}
}

func ExampleVerifier_Verify() {
	v, err := verify.New(webhook.Verify{Type: webhook.VerifyGitHub, Secret: "It's a Secret to Everybody"})
	if err != nil {
		fmt.Println(err)
		return
	}
	body := []byte("Hello, World!")
	r := httptest.NewRequest(http.MethodPost, "/webhook/github", nil)
	r.Header.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	fmt.Println(v.Verify(r, body, time.Now()))
	r.Header.Del("X-Hub-Signature-256")
	fmt.Println(v.Verify(r, body, time.Now()))
	// Output:
	// <nil>
	// signature verification failed: X-Hub-Signature-256 header is missing
}
