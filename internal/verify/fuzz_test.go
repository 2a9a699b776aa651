package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/internal/webhook"
)

// The fuzz tests check every header parser for panics and for one
// property each: a request is accepted only when it carries what the
// scheme demands. Their seeds run in every `go test`.

var fuzzNow = time.Unix(1_700_000_000, 0)

func fuzzMAC(key string, parts ...string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func mustNew(t testing.TB, v webhook.Verify) *Verifier {
	t.Helper()
	ver, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return ver
}

// checkError holds every failure to the package's contract.
func checkError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *Error
	if !errors.As(err, &ve) || !errors.Is(err, webhook.ErrUnauthorized) {
		t.Fatalf("error %v (%T) is not a *verify.Error wrapping ErrUnauthorized", err, err)
	}
}

func FuzzStripeSignature(f *testing.F) {
	const secret = "whsec_fuzz"
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	body := `{"id":"evt_1"}`
	good := hex.EncodeToString(fuzzMAC(secret, ts, ".", body))
	f.Add("t="+ts+",v1="+good, body)
	f.Add("t="+ts+",v1=00,v1="+good+",v0=ab", body)
	f.Add("t="+ts, body)
	f.Add("v1="+good, body)
	f.Add("t=,v1=", "")
	f.Add("t="+ts+",t="+ts+",v1="+good, body)
	f.Add(",,,=,t=1=2", "x")
	f.Add("t=99999999999999999999,v1="+good, body)
	f.Add("t= "+ts+" , v1 = "+good, body)
	v := mustNew(f, webhook.Verify{Type: webhook.VerifyStripe, Secret: secret})
	f.Fuzz(func(t *testing.T, header, body string) {
		sig, perr := parseStripeSignature(header)
		if perr == nil {
			if len(sig.v1) == 0 || strconv.FormatInt(sig.unix, 10) != strings.TrimLeft(sig.timestamp, "0") && sig.unix != 0 {
				t.Fatalf("parse(%q) = %+v", header, sig)
			}
		}
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header["Stripe-Signature"] = []string{header}
		err := v.Verify(r, []byte(body), fuzzNow)
		checkError(t, err)
		if err == nil {
			if perr != nil {
				t.Fatalf("accepted %q that does not parse: %v", header, perr)
			}
			want := hex.EncodeToString(fuzzMAC(secret, sig.timestamp, ".", body))
			if !strings.Contains(strings.ToLower(header), "v1="+want) {
				t.Fatalf("accepted %q without a valid v1 signature", header)
			}
		}
	})
}

func FuzzStandardSignature(f *testing.F) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	ref, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		f.Fatal(err)
	}
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	good, err := ref.Sign("msg_1", fuzzNow, []byte("{}"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("msg_1", ts, good, "{}")
	f.Add("msg_1", ts, "v1,AAAA "+good, "{}")
	f.Add("msg_1", ts, "v1a,xyz v2,abc "+good+" ", "{}")
	f.Add("msg_1", "+"+ts, good, "{}")
	f.Add("msg_1", "0"+ts, good, "{}")
	f.Add("", "", "", "")
	f.Add("a.b", "1", "v1,,, ,v1", "x")
	v := mustNew(f, webhook.Verify{Type: webhook.VerifyStandardWebhooks, Secret: secret})
	f.Fuzz(func(t *testing.T, id, ts, sigHeader, body string) {
		for _, s := range parseStandardSignatures(sigHeader) {
			if s == "" || strings.Contains(s, " ") {
				t.Fatalf("parse(%q) gave %q", sigHeader, s)
			}
		}
		h := http.Header{}
		h["Webhook-Id"] = []string{id}
		h["Webhook-Timestamp"] = []string{ts}
		h["Webhook-Signature"] = []string{sigHeader}
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header = h
		err := v.Verify(r, []byte(body), fuzzNow)
		checkError(t, err)
		if err != nil {
			return
		}
		// Whatever hookd accepts, the reference library accepts too. (The
		// converse does not hold: hookd also refuses a timestamp that is
		// not plain digits, which the library reads with a sign.)
		if rerr := ref.VerifyIgnoringTimestamp([]byte(body), h); rerr != nil {
			t.Fatalf("hookd accepted id %q ts %q sig %q, the reference library refuses: %v", id, ts, sigHeader, rerr)
		}
	})
}

func FuzzSlackSignature(f *testing.F) {
	const secret = "slack-secret"
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	good := "v0=" + hex.EncodeToString(fuzzMAC(secret, "v0:", ts, ":", "{}"))
	f.Add(good, ts, "{}")
	f.Add(good, "0"+ts, "{}")
	f.Add("v0=", "", "")
	f.Add("v1="+good[3:], ts, "{}")
	f.Add(good, "1e9", "{}")
	f.Add(good, "-1", "{}")
	v := mustNew(f, webhook.Verify{Type: webhook.VerifySlack, Secret: secret})
	f.Fuzz(func(t *testing.T, sig, ts, body string) {
		if n, ok := parseUnix(ts); ok && (n < 0 || strings.TrimLeft(ts, "0") != strings.TrimLeft(strconv.FormatInt(n, 10), "0")) {
			t.Fatalf("parseUnix(%q) = %d", ts, n)
		}
		_, _ = parseSlackSignature(sig, sha256.Size)
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header["X-Slack-Signature"] = []string{sig}
		r.Header["X-Slack-Request-Timestamp"] = []string{ts}
		err := v.Verify(r, []byte(body), fuzzNow)
		checkError(t, err)
		if err == nil {
			want := "v0=" + hex.EncodeToString(fuzzMAC(secret, "v0:", ts, ":", body))
			if !strings.EqualFold(sig, want) {
				t.Fatalf("accepted signature %q for ts %q, want %q", sig, ts, want)
			}
		}
	})
}

func FuzzBasicAuth(f *testing.F) {
	const user, pass = "provider", "s3cret:with:colons"
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	f.Add("Basic " + enc(user+":"+pass))
	f.Add("basic " + enc(user+":"+pass))
	f.Add("Basic " + enc(user))
	f.Add("Basic " + enc(":"))
	f.Add("Basic")
	f.Add("Bearer x")
	f.Add("Basic !!!")
	f.Add("Basic  " + enc(user+":"+pass))
	v := mustNew(f, webhook.Verify{Type: webhook.VerifyBasic, Username: user, Secret: pass})
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header["Authorization"] = []string{header}
		err := v.Verify(r, nil, fuzzNow)
		checkError(t, err)
		if err == nil {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				t.Fatalf("accepted %q: user %q password %q", header, u, p)
			}
		}
	})
}

func FuzzToken(f *testing.F) {
	const token = "tok_123"
	f.Add("Bearer " + token)
	f.Add(token)
	f.Add("bearer   " + token)
	f.Add("Bearer")
	f.Add("BEARER tok_12")
	v := mustNew(f, webhook.Verify{Type: webhook.VerifyToken, Secret: token})
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header["Authorization"] = []string{header}
		err := v.Verify(r, nil, fuzzNow)
		checkError(t, err)
		if err == nil && !strings.HasSuffix(header, token) {
			t.Fatalf("accepted %q", header)
		}
	})
}

func FuzzAllowList(f *testing.F) {
	f.Add("192.0.2.0/24\n2001:db8::/32", "192.0.2.7:80")
	f.Add("198.51.100.7", "198.51.100.7:1")
	f.Add("::ffff:192.0.2.0/120", "192.0.2.1:1")
	f.Add("::/0", "[::ffff:1.2.3.4]:5")
	f.Add("fe80::/10", "[fe80::1%eth0]:443")
	f.Add("0.0.0.0/0", "garbage")
	f.Add("10.0.0.0/33\n", "10.0.0.1")
	f.Add("1.2.3.4%x", "1.2.3.4")
	f.Fuzz(func(t *testing.T, list, remote string) {
		entries := strings.Split(list, "\n")
		prefixes, _, err := parseAllowList(entries)
		if err != nil {
			if Validate(webhook.Verify{AllowIPs: entries}) == nil {
				t.Fatalf("Validate accepts %q that parseAllowList refuses", entries)
			}
			return
		}
		v := mustNew(t, webhook.Verify{AllowIPs: entries})
		err = v.CheckAddr(remote)
		checkError(t, err)
		if err != nil && !errors.Is(err, ErrForbidden) {
			t.Fatalf("CheckAddr(%q) = %v, want ErrForbidden", remote, err)
		}
		a, ok := clientAddr(remote)
		if !ok {
			if err == nil && len(prefixes) > 0 {
				t.Fatalf("allowed unparseable %q", remote)
			}
			return
		}
		// The answer agrees with a plain scan, and an entry that is the
		// client's own address always admits it.
		want := len(prefixes) == 0
		for i, p := range prefixes {
			want = want || p.Contains(a)
			if e, perr := netip.ParseAddr(strings.TrimSpace(entries[i])); perr == nil && e.Unmap() == a {
				if err != nil {
					t.Fatalf("entry %q does not admit %q: %v", entries[i], remote, err)
				}
			}
		}
		if want != (err == nil) {
			t.Fatalf("CheckAddr(%q) against %q = %v, want allowed=%v", remote, entries, err, want)
		}
	})
}

func FuzzHMACHeader(f *testing.F) {
	const secret = "k"
	good := "sha256=" + hex.EncodeToString(fuzzMAC(secret, "{}"))
	f.Add(good, "{}")
	f.Add("sha256=", "")
	f.Add("sha256="+strings.ToUpper(good[7:]), "{}")
	f.Add("sha1="+good[7:], "{}")
	v := mustNew(f, webhook.Verify{Type: webhook.VerifyHMAC, Secret: secret, Header: "X-Sig", Prefix: "sha256="})
	f.Fuzz(func(t *testing.T, header, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header["X-Sig"] = []string{header}
		err := v.Verify(r, []byte(body), fuzzNow)
		checkError(t, err)
		if err == nil && !strings.EqualFold(header, "sha256="+hex.EncodeToString(fuzzMAC(secret, body))) {
			t.Fatalf("accepted %q for %q", header, body)
		}
	})
}
