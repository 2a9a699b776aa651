package signing_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/internal/signing"
)

// vector is one golden signature. The signatures in testdata/vectors.json
// were computed outside this package (Python's hmac module), and the first
// one is the example of the Standard Webhooks specification and its
// reference libraries' tests.
type vector struct {
	Name      string `json:"name"`
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors in testdata/vectors.json")
	}
	return vs
}

func newSigner(t *testing.T, secret string, more ...string) *signing.Signer {
	t.Helper()
	s, err := signing.NewSigner(secret, more...)
	if err != nil {
		t.Fatalf("NewSigner(%q, %q): %v", secret, more, err)
	}
	return s
}

func newReference(t *testing.T, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook: %v", err)
	}
	return wh
}

func TestSignGoldenVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			ts := time.Unix(v.Timestamp, 0)
			if got := newSigner(t, v.Secret).Sign(v.ID, ts, []byte(v.Body)); got != v.Signature {
				t.Errorf("Sign = %q, want %q", got, v.Signature)
			}
			// The vector itself agrees with the reference library.
			ref, err := newReference(t, v.Secret).Sign(v.ID, ts, []byte(v.Body))
			if err != nil {
				t.Fatalf("reference Sign: %v", err)
			}
			if ref != v.Signature {
				t.Errorf("reference library signs %q, vector says %q", ref, v.Signature)
			}
		})
	}
}

func TestSignSpecExample(t *testing.T) {
	t.Parallel()
	// From the Standard Webhooks reference libraries' tests
	// (libraries/go/webhook_test.go TestWebhookSign).
	s := newSigner(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	got := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

// TestSignIgnoresSubSecondsAndZone checks that the signed timestamp is the
// whole Unix second sent in webhook-timestamp, whatever the time's zone.
func TestSignIgnoresSubSecondsAndZone(t *testing.T) {
	t.Parallel()
	s := newSigner(t, signing.NewSecret())
	base := time.Unix(1_700_000_000, 0).UTC()
	want := s.Sign("id", base, []byte("x"))
	for _, ts := range []time.Time{
		base.Add(999 * time.Millisecond),
		base.In(time.FixedZone("UTC+5", 5*3600)),
	} {
		if got := s.Sign("id", ts, []byte("x")); got != want {
			t.Errorf("Sign at %v = %q, want %q as at %v", ts, got, want, base)
		}
	}
}

func TestReferenceLibraryVerifiesOurSignature(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			now := time.Now()
			sig := newSigner(t, v.Secret).Sign(v.ID, now, []byte(v.Body))
			h := http.Header{}
			h.Set(signing.HeaderID, v.ID)
			h.Set(signing.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			h.Set(signing.HeaderSignature, sig)
			if err := newReference(t, v.Secret).Verify([]byte(v.Body), h); err != nil {
				t.Errorf("reference Verify: %v", err)
			}
			// And the other way round: our Verify accepts the reference's signature.
			ref, err := newReference(t, v.Secret).Sign(v.ID, now, []byte(v.Body))
			if err != nil {
				t.Fatalf("reference Sign: %v", err)
			}
			if err := newSigner(t, v.Secret).Verify(v.ID, now, []byte(v.Body), ref, now, 5*time.Minute); err != nil {
				t.Errorf("Verify of the reference signature: %v", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	other := signing.NewSecret()
	now := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	const id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	good := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	otherSig := newSigner(t, other).Sign(id, now, body)
	tests := []struct {
		name   string
		id     string
		ts     time.Time
		body   []byte
		header string
		ok     bool
	}{
		{"valid", id, now, body, good, true},
		{"valid among several, last", id, now, body, "v1,AAAA " + otherSig + " " + good, true},
		{"valid among several, first", id, now, body, good + " v1,AAAA", true},
		{"extra spaces between", id, now, body, "v1,AAAA   " + good, true},
		{"key rotation: old and new secret", id, now, body, otherSig + " " + good, true},
		{"signed with another secret", id, now, body, otherSig, false},
		{"empty header", id, now, body, "", false},
		{"only bad signatures", id, now, body, "v1,AAAA v1,BBBB", false},
		{"signature without version", id, now, body, strings.TrimPrefix(good, "v1,"), false},
		{"wrong version", id, now, body, "v2," + strings.TrimPrefix(good, "v1,"), false},
		{"truncated signature", id, now, body, good[:len(good)-2], false},
		{"body changed", id, now, []byte(`{"test": 2432232315}`), good, false},
		{"id changed", "msg_other", now, body, good, false},
		{"timestamp changed by a second", id, now.Add(time.Second), body, good, false},
	}
	s := newSigner(t, secret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := s.Verify(tt.id, tt.ts, tt.body, tt.header, now, 5*time.Minute)
			if tt.ok && err != nil {
				t.Errorf("Verify: %v, want nil", err)
			}
			if !tt.ok && err == nil {
				t.Error("Verify: nil, want an error")
			}
		})
	}
}

func TestVerifyTimestampTolerance(t *testing.T) {
	t.Parallel()
	s := newSigner(t, signing.NewSecret())
	now := time.Unix(1_700_000_000, 0)
	const tolerance = 5 * time.Minute
	tests := []struct {
		name string
		ts   time.Time
		ok   bool
	}{
		{"now", now, true},
		{"at the past edge", now.Add(-tolerance), true},
		{"at the future edge", now.Add(tolerance), true},
		{"stale", now.Add(-tolerance - time.Second), false},
		{"an hour old", now.Add(-time.Hour), false},
		{"too far in the future", now.Add(tolerance + time.Second), false},
		{"epoch", time.Unix(0, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte("payload")
			sig := s.Sign("msg", tt.ts, body) // correctly signed: only the time may fail it
			err := s.Verify("msg", tt.ts, body, sig, now, tolerance)
			if tt.ok && err != nil {
				t.Errorf("Verify at %v: %v, want nil", tt.ts, err)
			}
			if !tt.ok && err == nil {
				t.Errorf("Verify at %v: nil, want a stale/future timestamp error", tt.ts)
			}
		})
	}
}

func TestNewSignerRejectsBadSecrets(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name   string
		secret string
	}{
		{"empty", ""},
		{"prefix only", "whsec_"},
		{"no prefix", b64(32)},
		{"wrong prefix", "whsk_" + b64(32)},
		{"upper-case prefix", "WHSEC_" + b64(32)},
		{"bad base64", "whsec_not*base64!"},
		{"URL-safe base64", "whsec_" + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe}))},
		{"missing padding", "whsec_" + strings.TrimRight(b64(32), "=")},
		{"too short: 16 bytes", "whsec_" + b64(16)},
		{"too short: 23 bytes", "whsec_" + b64(23)},
		{"too long: 65 bytes", "whsec_" + b64(65)},
		{"space inside", "whsec_ " + b64(32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := signing.NewSigner(tt.secret)
			if !errors.Is(err, signing.ErrBadSecret) {
				t.Errorf("NewSigner(%q) = (%v, %v), want ErrBadSecret", tt.secret, s, err)
			}
			if err != nil && len(tt.secret) > len(signing.SecretPrefix) && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("NewSigner error %q echoes the secret", err)
			}
		})
	}
}

func TestNewSignerAcceptsKeySizes(t *testing.T) {
	t.Parallel()
	for _, n := range []int{24, 32, 64} {
		secret := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, n))
		if _, err := signing.NewSigner(secret); err != nil {
			t.Errorf("NewSigner with a %d-byte key: %v", n, err)
		}
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		secret := signing.NewSecret()
		raw, ok := strings.CutPrefix(secret, signing.SecretPrefix)
		if !ok {
			t.Fatalf("NewSecret() = %q, want prefix %q", secret, signing.SecretPrefix)
		}
		key, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			t.Fatalf("NewSecret() = %q: not base64: %v", secret, err)
		}
		if len(key) != 32 {
			t.Errorf("NewSecret() key is %d bytes, want 32", len(key))
		}
		if seen[secret] {
			t.Fatalf("NewSecret() repeated %q", secret)
		}
		seen[secret] = true

		// It round-trips through NewSigner and through the reference library.
		s := newSigner(t, secret)
		now := time.Now()
		sig := s.Sign("msg", now, []byte("hi"))
		ref, err := newReference(t, secret).Sign("msg", now, []byte("hi"))
		if err != nil {
			t.Fatalf("reference Sign: %v", err)
		}
		if sig != ref {
			t.Errorf("Sign = %q, reference library = %q", sig, ref)
		}
		if err := s.Verify("msg", now, []byte("hi"), sig, now, time.Minute); err != nil {
			t.Errorf("Verify own signature: %v", err)
		}
	}
}

func ExampleSigner_Sign() {
	signer, err := signing.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		fmt.Println(err)
		return
	}
	id := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)

	// The three headers of an outbound delivery.
	fmt.Println(signing.HeaderID+":", id)
	fmt.Println(signing.HeaderTimestamp+":", ts.Unix())
	fmt.Println(signing.HeaderSignature+":", signer.Sign(id, ts, body))
	// Output:
	// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
	// webhook-timestamp: 1614265330
	// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}
