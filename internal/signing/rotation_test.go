package signing_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/signing"
)

// TestRotationBothReceiversVerify signs with the new and the old secret, as
// hookd does during a rotation, and checks with the Standard Webhooks
// reference library that a receiver knowing only one of them accepts it.
func TestRotationBothReceiversVerify(t *testing.T) {
	t.Parallel()
	newSecret, oldSecret, strangerSecret := signing.NewSecret(), signing.NewSecret(), signing.NewSecret()
	s, err := signing.NewSigner(newSecret, oldSecret)
	if err != nil {
		t.Fatalf("NewSigner(new, old): %v", err)
	}
	now := time.Now()
	body := []byte(`{"type":"rotation"}`)
	sig := s.Sign("msg_rot", now, body)

	parts := strings.Split(sig, " ")
	if len(parts) != 2 {
		t.Fatalf("Sign with two secrets = %q, want two space-separated signatures", sig)
	}
	if want := newSigner(t, newSecret).Sign("msg_rot", now, body); parts[0] != want {
		t.Errorf("first signature %q, want the new secret's %q", parts[0], want)
	}
	if want := newSigner(t, oldSecret).Sign("msg_rot", now, body); parts[1] != want {
		t.Errorf("second signature %q, want the old secret's %q", parts[1], want)
	}

	h := http.Header{}
	h.Set(signing.HeaderID, "msg_rot")
	h.Set(signing.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(signing.HeaderSignature, sig)
	for name, secret := range map[string]string{"knows the new secret": newSecret, "knows the old secret": oldSecret} {
		if err := newReference(t, secret).Verify(body, h); err != nil {
			t.Errorf("receiver that %s: reference Verify: %v", name, err)
		}
		if err := newSigner(t, secret).VerifyHeader(h, body, now, 5*time.Minute); err != nil {
			t.Errorf("receiver that %s: VerifyHeader: %v", name, err)
		}
	}
	if err := newReference(t, strangerSecret).Verify(body, h); err == nil {
		t.Error("receiver with an unrelated secret: reference Verify accepted")
	}
}

// TestVerifyWithSeveralSecrets is the receiver's side of a rotation: a
// signer built from both secrets accepts messages signed with either.
func TestVerifyWithSeveralSecrets(t *testing.T) {
	t.Parallel()
	a, b, c := signing.NewSecret(), signing.NewSecret(), signing.NewSecret()
	now := time.Unix(1_700_000_000, 0)
	body := []byte("x")
	both := newSigner(t, a, b)
	tests := []struct {
		name   string
		header string
		want   error
	}{
		{"signed with the first", newSigner(t, a).Sign("m", now, body), nil},
		{"signed with the second", newSigner(t, b).Sign("m", now, body), nil},
		{"signed with both", newSigner(t, b, a).Sign("m", now, body), nil},
		{"unknown version before a good one", "v9,AAAA " + newSigner(t, b).Sign("m", now, body), nil},
		{"signed with another", newSigner(t, c).Sign("m", now, body), signing.ErrNoMatchingSignature},
		{"not base64", "v1,!!!!", signing.ErrNoMatchingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := both.Verify("m", now, body, tt.header, now, time.Minute)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewSignerNamesTheBadSecret(t *testing.T) {
	t.Parallel()
	_, err := signing.NewSigner(signing.NewSecret(), "whsec_short")
	if !errors.Is(err, signing.ErrBadSecret) || !strings.HasPrefix(err.Error(), "secret 2:") {
		t.Errorf("NewSigner(good, bad) = %v, want ErrBadSecret for secret 2", err)
	}
	if strings.Contains(err.Error(), "whsec_short") {
		t.Errorf("error %q echoes the secret", err)
	}
}

func TestVerifyHeader(t *testing.T) {
	t.Parallel()
	secret := signing.NewSecret()
	s := newSigner(t, secret)
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"ok":true}`)
	good := func() http.Header {
		h := http.Header{}
		h.Set(signing.HeaderID, "msg_1")
		h.Set(signing.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(signing.HeaderSignature, s.Sign("msg_1", now, body))
		return h
	}
	tests := []struct {
		name   string
		edit   func(h http.Header)
		want   error
		reason string
	}{
		{"valid", func(http.Header) {}, nil, ""},
		{"no webhook-id", func(h http.Header) { h.Del(signing.HeaderID) }, signing.ErrMissingHeader, "webhook-id"},
		{"no webhook-timestamp", func(h http.Header) { h.Del(signing.HeaderTimestamp) }, signing.ErrMissingHeader, "webhook-timestamp"},
		{"no webhook-signature", func(h http.Header) { h.Del(signing.HeaderSignature) }, signing.ErrMissingHeader, "webhook-signature"},
		{"timestamp in milliseconds", func(h http.Header) { h.Set(signing.HeaderTimestamp, strconv.FormatInt(now.UnixMilli(), 10)) }, signing.ErrTimestampOutsideTolerance, "in the future"},
		{"timestamp not a number", func(h http.Header) { h.Set(signing.HeaderTimestamp, "yesterday") }, nil, "not a Unix time"},
		{"other id", func(h http.Header) { h.Set(signing.HeaderID, "msg_2") }, signing.ErrNoMatchingSignature, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := good()
			tt.edit(h)
			err := s.VerifyHeader(h, body, now, 5*time.Minute)
			switch {
			case tt.want == nil && tt.reason == "" && err != nil:
				t.Errorf("VerifyHeader: %v, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("VerifyHeader: %v, want %v", err, tt.want)
			case tt.reason != "" && (err == nil || !strings.Contains(err.Error(), tt.reason)):
				t.Errorf("VerifyHeader: %v, want an error saying %q", err, tt.reason)
			}
		})
	}
}

// FuzzVerifyHeader feeds arbitrary header values to VerifyHeader: it must
// never panic, and must accept only a header carrying the true signature.
func FuzzVerifyHeader(f *testing.F) {
	f.Add("msg_1", "1700000000", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{}`))
	f.Add("", "", "", []byte(nil))
	f.Add("m", "-1", "v1, v1,, ,v1 v2,AAAA", []byte("x"))
	f.Add("m", "99999999999999999999", "v1,====", []byte("x"))
	f.Add("m", " 1700000000 ", "v1,AAAA\tv1,BBBB", []byte("x"))
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	s, err := signing.NewSigner(secret, signing.NewSecret())
	if err != nil {
		f.Fatal(err)
	}
	single, err := signing.NewSigner(secret)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(signing.HeaderID, id)
		h.Set(signing.HeaderTimestamp, ts)
		h.Set(signing.HeaderSignature, sig)
		now := time.Unix(1_700_000_000, 0)
		if err := s.VerifyHeader(h, body, now, time.Hour); err == nil {
			unix, perr := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
			if perr != nil {
				t.Fatalf("accepted an unparseable timestamp %q", ts)
			}
			// The accepted header must hold one of the signer's own
			// signatures for this very message.
			want := strings.Fields(s.Sign(id, time.Unix(unix, 0), body))
			found := false
			for _, f := range strings.Fields(sig) {
				found = found || f == want[0] || f == want[1]
			}
			if !found && single.Verify(id, time.Unix(unix, 0), body, sig, now, time.Hour) != nil {
				t.Fatalf("accepted %q without a true signature", sig)
			}
		}
	})
}
