package ingest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/internal/webhook"
)

// Verification end to end: real HTTP requests to the handler, for sources
// of each kind; signatures computed here with crypto/hmac or the Standard
// Webhooks reference library.

const (
	stripeSecret = "whsec_stripe_ingest_test"
	slackSecret  = "slack-ingest-secret"
	apiToken     = "tok_ingest_0123456789"
)

var standardSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("ingest-test-key-of-32-bytes-long"))

var verifyCatalog = fakeCatalog{
	sources: map[string]webhook.Source{
		"stripe":   {Name: "stripe", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: webhook.VerifyStripe, Secret: stripeSecret}},
		"standard": {Name: "standard", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: webhook.VerifyStandardWebhooks, Secret: standardSecret}},
		"slack":    {Name: "slack", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: webhook.VerifySlack, Secret: slackSecret}},
		"token":    {Name: "token", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: webhook.VerifyToken, Secret: apiToken, Header: "X-Api-Token"}},
		"basic":    {Name: "basic", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: webhook.VerifyBasic, Username: "u", Secret: "p"}},
		// The test client connects over loopback.
		"loopback": {Name: "loopback", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{AllowIPs: []string{"127.0.0.0/8", "::1"}}},
		"faraway":  {Name: "faraway", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{AllowIPs: []string{"192.0.2.0/24"}}},
		"faraway-stripe": {Name: "faraway-stripe", MaxBodyBytes: 16, Verify: webhook.Verify{
			Type: webhook.VerifyStripe, Secret: stripeSecret, AllowIPs: []string{"192.0.2.0/24"}}},
		// Settings the catalog would refuse.
		"broken": {Name: "broken", MaxBodyBytes: 1 << 20, Verify: webhook.Verify{Type: webhook.VerifyHMAC, Secret: "hmac-secret-value"}},
	},
	destinations: []webhook.Destination{{Name: "all", Sources: []string{"*"}}},
}

func hexHMAC(key string, parts ...string) string {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func stripeHeader(secret string, at time.Time, body string) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return "t=" + ts + ",v1=" + hexHMAC(secret, ts, ".", body)
}

func standardHeaders(t *testing.T, secret, id string, at time.Time, body string) map[string]string {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, at, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"webhook-id": id, "webhook-timestamp": strconv.FormatInt(at.Unix(), 10), "webhook-signature": sig}
}

func slackHeaders(secret string, at time.Time, body string) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + hexHMAC(secret, "v0:", ts, ":", body)}
}

// refused checks a refusal: status, code, a message naming part, nothing
// stored or queued, and no secret in the answer.
func refused(t *testing.T, f fixture, r response, status int, code, part string) {
	t.Helper()
	wantError(t, r, status, code)
	if msg, _ := r.body["error"].(string); !strings.Contains(msg, part) {
		t.Errorf("error %q does not name %q", msg, part)
	}
	if n := len(f.store.stored()); n != 0 {
		t.Errorf("stored %d events, want 0", n)
	}
	if n := len(f.queue.notified()); n != 0 {
		t.Errorf("queue notified of %d deliveries, want 0", n)
	}
	for _, s := range []string{stripeSecret, strings.TrimPrefix(standardSecret, "whsec_"), slackSecret, apiToken} {
		if strings.Contains(r.raw, s) {
			t.Errorf("answer %s shows a secret", r.raw)
		}
	}
}

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{"Content-Type": "application/json"}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestHandlerStripe(t *testing.T) {
	t.Parallel()
	const body = `{"id":"evt_1NsZ","type":"invoice.paid","data":{"object":{}}}`
	good := stripeHeader(stripeSecret, testNow, body)
	tests := []struct {
		name   string
		header string
		part   string // "" for accepted
	}{
		{"valid", good, ""},
		{"signed a minute ago", stripeHeader(stripeSecret, testNow.Add(-time.Minute), body), ""},
		{"rotated: an old and the current signature", good + ",v1=" + hexHMAC("whsec_old", "1", ".", body), ""},
		{"wrong secret", stripeHeader("whsec_other", testNow, body), "Stripe-Signature header does not match"},
		{"stale", stripeHeader(stripeSecret, testNow.Add(-10*time.Minute), body), "Stripe-Signature header is outside the replay window"},
		{"future", stripeHeader(stripeSecret, testNow.Add(10*time.Minute), body), "outside the replay window"},
		{"missing", "", "Stripe-Signature header is missing"},
		{"no timestamp", "v1=" + strings.SplitN(good, "v1=", 2)[1], "Stripe-Signature header is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setupCatalog(t, nil, verifyCatalog)
			h := with(nil)
			if tt.header != "" {
				h["Stripe-Signature"] = tt.header
			}
			r := send(t, f, "stripe", strings.NewReader(body), h)
			if tt.part != "" {
				refused(t, f, r, http.StatusUnauthorized, "invalid_signature", tt.part)
				return
			}
			if r.status != http.StatusAccepted {
				t.Fatalf("status %d, want 202; body %s", r.status, r.raw)
			}
			stored := f.store.stored()
			if len(stored) != 1 {
				t.Fatalf("stored %d events, want 1", len(stored))
			}
			ev := stored[0].Event
			if ev.ID != r.body["id"] || ev.Type != "invoice.paid" || ev.IdempotencyKey != "evt_1NsZ" || string(ev.Body) != body {
				t.Errorf("stored %+v, want the body as sent, type invoice.paid, key evt_1NsZ", ev)
			}
		})
	}
}

func TestHandlerStandardWebhooks(t *testing.T) {
	t.Parallel()
	const body = `{"type":"contact.created","timestamp":"2024-05-01T12:00:00Z","data":{"id":"c_1"}}`
	tests := []struct {
		name   string
		header map[string]string
		part   string
	}{
		{"valid", standardHeaders(t, standardSecret, "msg_1", testNow, body), ""},
		{"svix headers", map[string]string{
			"svix-id": "msg_1", "svix-timestamp": strconv.FormatInt(testNow.Unix(), 10),
			"svix-signature": standardHeaders(t, standardSecret, "msg_1", testNow, body)["webhook-signature"],
		}, ""},
		{"wrong secret", standardHeaders(t, "whsec_"+base64.StdEncoding.EncodeToString([]byte("another-key-of-thirty-two-bytes!")), "msg_1", testNow, body), "webhook-signature header does not match"},
		{"signed for another id", with(standardHeaders(t, standardSecret, "msg_2", testNow, body), "webhook-id", "msg_1"), "webhook-signature header does not match"},
		{"stale", standardHeaders(t, standardSecret, "msg_1", testNow.Add(-time.Hour), body), "webhook-timestamp header is outside the replay window"},
		{"missing id", with(standardHeaders(t, standardSecret, "msg_1", testNow, body), "webhook-id", ""), "webhook-id header is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setupCatalog(t, nil, verifyCatalog)
			r := send(t, f, "standard", strings.NewReader(body), with(tt.header))
			if tt.part != "" {
				refused(t, f, r, http.StatusUnauthorized, "invalid_signature", tt.part)
				return
			}
			if r.status != http.StatusAccepted {
				t.Fatalf("status %d, want 202; body %s", r.status, r.raw)
			}
			stored := f.store.stored()
			if len(stored) != 1 || stored[0].Event.Type != "contact.created" || stored[0].Event.IdempotencyKey != "msg_1" {
				t.Fatalf("stored %+v, want one contact.created event keyed msg_1", stored)
			}
			// The provider's retry of the same message is a duplicate.
			again := send(t, f, "standard", strings.NewReader(body), with(tt.header))
			if again.status != http.StatusAccepted || again.body["id"] != r.body["id"] || again.body["duplicate"] != true {
				t.Errorf("retry answered %d %s, want 202 duplicate of %v", again.status, again.raw, r.body["id"])
			}
		})
	}
}

func TestHandlerAllowIPs(t *testing.T) {
	t.Parallel()
	f := setupCatalog(t, nil, verifyCatalog)
	r := send(t, f, "loopback", strings.NewReader(`{}`), with(nil))
	if r.status != http.StatusAccepted || len(f.store.stored()) != 1 {
		t.Fatalf("from loopback to a loopback-only source: %d %s, want 202 and stored", r.status, r.raw)
	}

	for _, tt := range []struct {
		name, source string
		header       map[string]string
		body         string
	}{
		{"outside the list", "faraway", with(nil), `{}`},
		{"X-Forwarded-For names an allowed address", "faraway", with(nil, "X-Forwarded-For", "192.0.2.1", "X-Real-Ip", "192.0.2.1"), `{}`},
		{"good signature, wrong address", "faraway-stripe", with(nil, "Stripe-Signature", stripeHeader(stripeSecret, testNow, `{}`)), `{}`},
		// Refused before the body is read: not 413.
		{"body over the limit", "faraway-stripe", with(nil), strings.Repeat("x", 100)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setupCatalog(t, nil, verifyCatalog)
			r := send(t, f, tt.source, strings.NewReader(tt.body), tt.header)
			refused(t, f, r, http.StatusForbidden, "forbidden_address", "client address 127.0.0.1 is not allowed")
		})
	}
}

func TestHandlerSlack(t *testing.T) {
	t.Parallel()
	t.Run("url_verification is answered, not stored", func(t *testing.T) {
		t.Parallel()
		f := setupCatalog(t, nil, verifyCatalog)
		body := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
		r := send(t, f, "slack", strings.NewReader(body), with(slackHeaders(slackSecret, testNow, body)))
		if r.status != http.StatusOK || r.body["challenge"] != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
			t.Errorf("answer %d %s, want 200 with the challenge", r.status, r.raw)
		}
		if n := len(f.store.stored()); n != 0 {
			t.Errorf("stored %d events, want 0", n)
		}
	})
	t.Run("url_verification with a bad signature", func(t *testing.T) {
		t.Parallel()
		f := setupCatalog(t, nil, verifyCatalog)
		body := `{"challenge":"c","type":"url_verification"}`
		r := send(t, f, "slack", strings.NewReader(body), with(slackHeaders("wrong", testNow, body)))
		refused(t, f, r, http.StatusUnauthorized, "invalid_signature", "X-Slack-Signature header does not match")
		if strings.Contains(r.raw, `"challenge"`) {
			t.Errorf("answer %s echoes the challenge", r.raw)
		}
	})
	t.Run("an event is stored under its inner type and event_id", func(t *testing.T) {
		t.Parallel()
		f := setupCatalog(t, nil, verifyCatalog)
		body := `{"type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"app_mention","text":"hi"}}`
		r := send(t, f, "slack", strings.NewReader(body), with(slackHeaders(slackSecret, testNow, body)))
		stored := f.store.stored()
		if r.status != http.StatusAccepted || len(stored) != 1 {
			t.Fatalf("answer %d %s, stored %d; want 202 and one event", r.status, r.raw, len(stored))
		}
		if ev := stored[0].Event; ev.Type != "app_mention" || ev.IdempotencyKey != "Ev08MFMKH6" {
			t.Errorf("stored type %q key %q, want app_mention, Ev08MFMKH6", ev.Type, ev.IdempotencyKey)
		}
	})
	t.Run("a slash command", func(t *testing.T) {
		t.Parallel()
		f := setupCatalog(t, nil, verifyCatalog)
		body := "token=x&command=%2Fdeploy&text=prod"
		r := send(t, f, "slack", strings.NewReader(body), with(slackHeaders(slackSecret, testNow, body), "Content-Type", "application/x-www-form-urlencoded"))
		stored := f.store.stored()
		if r.status != http.StatusAccepted || len(stored) != 1 || stored[0].Event.Type != "/deploy" {
			t.Fatalf("answer %d %s, stored %+v; want 202 and a /deploy event", r.status, r.raw, stored)
		}
	})
}

func TestHandlerCredentialsNotStored(t *testing.T) {
	t.Parallel()
	f := setupCatalog(t, nil, verifyCatalog)
	r := send(t, f, "token", strings.NewReader(`{}`), with(nil, "X-Api-Token", apiToken, "X-Other", "kept"))
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202; body %s", r.status, r.raw)
	}
	ev := f.store.stored()[0].Event
	if _, ok := ev.Headers["X-Api-Token"]; ok || ev.Headers["X-Other"] != "kept" {
		t.Errorf("stored headers %v, want the token header dropped and the others kept", ev.Headers)
	}
	bad := send(t, f, "token", strings.NewReader(`{}`), with(nil, "X-Api-Token", "nope"))
	wantError(t, bad, http.StatusUnauthorized, "invalid_signature")
}

func TestHandlerBasicChallenge(t *testing.T) {
	t.Parallel()
	f := setupCatalog(t, nil, verifyCatalog)
	r := send(t, f, "basic", strings.NewReader(`{}`), with(nil))
	refused(t, f, r, http.StatusUnauthorized, "invalid_signature", "Authorization header is missing")
	if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
		t.Errorf("WWW-Authenticate = %q, want a Basic challenge", got)
	}
	ok := send(t, f, "basic", strings.NewReader(`{}`), with(nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:p"))))
	if ok.status != http.StatusAccepted {
		t.Errorf("with credentials: %d %s, want 202", ok.status, ok.raw)
	}
}

func TestHandlerBrokenSettings(t *testing.T) {
	t.Parallel()
	f := setupCatalog(t, nil, verifyCatalog)
	r := send(t, f, "broken", strings.NewReader(`{}`), with(nil))
	wantError(t, r, http.StatusInternalServerError, "internal")
	if strings.Contains(r.raw, "verify.") || strings.Contains(r.raw, "hmac-secret-value") {
		t.Errorf("answer %s shows the configuration", r.raw)
	}
	if n := len(f.store.stored()); n != 0 {
		t.Errorf("stored %d events, want 0", n)
	}
	if !strings.Contains(f.logs.String(), "verify.header") {
		t.Errorf("log %q does not name the bad field", f.logs.String())
	}
}

// FuzzHandler sends random headers and bodies, signed or not, to sources
// with verification. The handler must never panic, must answer 202, 200
// (Slack's handshake) or 4xx, and a 202 must mean the event is stored.
func FuzzHandler(f *testing.F) {
	sources := []string{"stripe", "standard", "slack", "token", "basic", "loopback", "faraway-stripe"}
	f.Add(uint8(0), true, "", "", "", "", "application/json", []byte(`{"id":"evt_1","type":"invoice.paid"}`), "127.0.0.1:5000")
	f.Add(uint8(0), false, "Stripe-Signature", "t=1,v1=00", "", "", "application/json", []byte(`{}`), "127.0.0.1:5000")
	f.Add(uint8(1), true, "webhook-signature", "v1,AAAA", "", "", "application/json", []byte(`{"type":"a.b"}`), "[::1]:1")
	f.Add(uint8(1), true, "", "", "", "", "text/plain", []byte("not json"), "127.0.0.1:1")
	f.Add(uint8(2), true, "", "", "", "", "application/json", []byte(`{"type":"url_verification","challenge":"c"}`), "127.0.0.1:1")
	f.Add(uint8(2), true, "X-Slack-Request-Timestamp", "99999999999999999999", "", "", "application/x-www-form-urlencoded", []byte("command=%2Fx"), "127.0.0.1:1")
	f.Add(uint8(3), true, "Idempotency-Key", strings.Repeat("k", 300), "", "", "application/json", []byte(`{}`), "127.0.0.1:1")
	f.Add(uint8(4), false, "Authorization", "Basic dTpw", "", "", "", []byte{}, "127.0.0.1:1")
	f.Add(uint8(5), false, "X-Forwarded-For", "192.0.2.1", "", "", "", []byte("x"), "garbage")
	f.Add(uint8(6), true, "", "", "", "", "application/json", []byte(`{}`), "192.0.2.9:443")
	f.Add(uint8(6), true, "", "", "", "", "application/json", bytes.Repeat([]byte("x"), 64), "192.0.2.9:443")

	st := &fakeStore{}
	h := New(Options{Store: st, Queue: &fakeQueue{}, Catalog: verifyCatalog, Now: func() time.Time { return testNow }})
	if err := h.Start(f.Context()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(h.Stop)

	f.Fuzz(func(t *testing.T, pick uint8, sign bool, k1, v1, k2, v2, contentType string, body []byte, remote string) {
		source := sources[int(pick)%len(sources)]
		req := httptest.NewRequest(http.MethodPost, "/webhook/"+source, bytes.NewReader(body))
		req.SetPathValue("source", source)
		req.RemoteAddr = remote
		req.Header.Set("Content-Type", contentType)
		if sign {
			var signed map[string]string
			switch source {
			case "stripe", "faraway-stripe":
				signed = map[string]string{"Stripe-Signature": stripeHeader(stripeSecret, testNow, string(body))}
			case "standard":
				signed = standardHeaders(t, standardSecret, "msg_fuzz", testNow, string(body))
			case "slack":
				signed = slackHeaders(slackSecret, testNow, string(body))
			case "token":
				signed = map[string]string{"X-Api-Token": apiToken}
			case "basic":
				signed = map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))}
			}
			for k, v := range signed {
				req.Header.Set(k, v)
			}
		}
		// The fuzzed headers go in as they are, not canonicalised, and may
		// override the signature.
		if k1 != "" {
			req.Header[k1] = []string{v1}
		}
		if k2 != "" {
			req.Header[k2] = append(req.Header[k2], v2)
		}
		before := st.count()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		after := st.count()

		switch {
		case rec.Code == http.StatusAccepted:
			if id := decodeID(t, rec.Body.Bytes()); !st.has(id) {
				t.Fatalf("202 for event %q that is not stored; answer %s", id, rec.Body)
			}
			if after > before+1 {
				t.Fatalf("one request stored %d events", after-before)
			}
		case rec.Code == http.StatusOK && source == "slack":
		case rec.Code >= 400 && rec.Code < 500:
		default:
			t.Fatalf("status %d; answer %s", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusAccepted && after != before {
			t.Fatalf("%d, yet %d events were stored", rec.Code, after-before)
		}
	})
}

func decodeID(t *testing.T, body []byte) string {
	t.Helper()
	var resp Response
	if err := json.Unmarshal(body, &resp); err != nil || resp.ID == "" {
		t.Fatalf("202 answer %q: %v", body, err)
	}
	return resp.ID
}
