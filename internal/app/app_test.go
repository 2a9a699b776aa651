package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/goleak"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

func TestMain(m *testing.M) {
	// Every test stops its App, closes its receivers and its client's idle
	// connections, so nothing needs to be ignored.
	goleak.VerifyTestMain(m)
}

// TestDelivery sends one JSON webhook and follows it to every subscribed
// destination: the body arrives byte for byte with its content type, the
// destination's extra headers, the hookd User-Agent and Standard Webhooks
// headers that the reference library verifies, and webhook-id is the
// delivery id, the same on every retry. A destination subscribed to another
// source, or to other event types, gets nothing.
func TestDelivery(t *testing.T) {
	t.Parallel()
	ci := startReceiver(t, receiver.Always(http.StatusOK))
	flaky := startReceiver(t, receiver.FailFirst(1, http.StatusServiceUnavailable))
	elsewhere := startReceiver(t, receiver.Always(http.StatusOK))
	pushes := startReceiver(t, receiver.Always(http.StatusOK))
	ciSecret := newSecret(t)
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("github"), testSource("stripe")}
		ciDest := testDestination("ci", ci.URL(), ciSecret, "github")
		ciDest.EventTypes = []string{"issues.*"}
		ciDest.Headers = map[string]string{"X-Team": "core", "Authorization": "Bearer ci-token"}
		pushDest := testDestination("pushes", pushes.URL(), newSecret(t), "github")
		pushDest.EventTypes = []string{"push"}
		cfg.Destinations = []webhook.Destination{
			ciDest,
			// No secret: hookd generates one and prints it once.
			testDestination("flaky", flaky.URL(), "", "github"),
			testDestination("elsewhere", elsewhere.URL(), newSecret(t), "stripe"),
			pushDest,
		}
	})
	flakySecret := ta.generatedSecret(t, "flaky")

	body := []byte("{\"action\":\"opened\",\"issue\":{\"number\":1347},\"note\":\"h\u00e9llo <&> \\u00e9\",\"pad\":  [1, 2,3 ]}\n")
	const contentType = "application/json; charset=utf-8"
	status, raw := ta.post(t, "/webhook/github", body, http.Header{
		"Content-Type":      {contentType},
		"X-GitHub-Event":    {"issues"},
		"X-GitHub-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
	})
	if status != http.StatusAccepted {
		t.Fatalf("POST /webhook/github: status %d, body %s; want 202", status, raw)
	}
	var reply map[string]any
	if err := json.Unmarshal(raw, &reply); err != nil {
		t.Fatalf("202 body %q is not JSON: %v", raw, err)
	}
	id, ok := reply["id"].(string)
	if !ok || id == "" || reply["status"] != "pending" {
		t.Fatalf("202 body = %s; want {\"id\": \"...\", \"status\": \"pending\"}", raw)
	}
	// 202 means stored: the event is there at once.
	if _, err := ta.Store().EventGet(context.Background(), id); err != nil {
		t.Fatalf("EventGet(%s) right after the 202: %v", id, err)
	}

	ta.waitTerminal(t, 15*time.Second, 2, webhook.StatusSuccess)
	byDest := ta.deliveriesByDestination(t, id)
	if len(byDest) != 2 || byDest["ci"].ID == "" || byDest["flaky"].ID == "" {
		t.Fatalf("deliveries of %s = %+v; want one for ci and one for flaky only", id, byDest)
	}

	ev, err := ta.Store().EventGet(context.Background(), id)
	if err != nil {
		t.Fatalf("EventGet(%s): %v", id, err)
	}
	if !bytes.Equal(ev.Body, body) || ev.Type != "issues.opened" || ev.Status != webhook.StatusSuccess {
		t.Errorf("stored event: body equal %v, type %q, status %q; want the sent body, issues.opened, success",
			bytes.Equal(ev.Body, body), ev.Type, ev.Status)
	}

	for _, tc := range []struct {
		dest   string
		rcv    *sink
		secret string
		tries  int
	}{
		{"ci", ci, ciSecret, 1},
		{"flaky", flaky, flakySecret, 2},
	} {
		arrivals := tc.rcv.Arrivals()
		if len(arrivals) != tc.tries {
			t.Errorf("%s: %d arrivals; want %d", tc.dest, len(arrivals), tc.tries)
		}
		for _, a := range arrivals {
			checkArrival(t, tc.dest, a, byDest[tc.dest].ID, body, contentType, tc.secret)
		}
	}
	for _, a := range ci.Arrivals() {
		if a.Header.Get("X-Team") != "core" || a.Header.Get("Authorization") != "Bearer ci-token" {
			t.Errorf("ci: X-Team %q, Authorization %q; want the destination's extra headers", a.Header.Get("X-Team"), a.Header.Get("Authorization"))
		}
	}
	if n := len(elsewhere.Arrivals()); n != 0 {
		t.Errorf("destination subscribed to another source got %d arrivals; want 0", n)
	}
	if n := len(pushes.Arrivals()); n != 0 {
		t.Errorf("destination subscribed to push events got %d arrivals of issues.opened; want 0", n)
	}
}

// TestDeliveryOfNonJSONBodies checks that bodies that are not JSON (binary,
// text, form, XML, empty) are accepted and delivered unchanged, with their
// content type.
func TestDeliveryOfNonJSONBodies(t *testing.T) {
	t.Parallel()
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	cases := []struct {
		name        string
		contentType string // sent; empty sends none
		body        []byte
		wantType    string // delivered
	}{
		{"binary", "application/octet-stream", allBytes, "application/octet-stream"},
		{"binary labelled JSON", "application/json", []byte{0xff, 0xfe, '{', 0x00, '"'}, "application/json"},
		{"plain text", "text/plain; charset=iso-8859-1", []byte("caf\xe9\r\nline two\x00end"), "text/plain; charset=iso-8859-1"},
		{"form", "application/x-www-form-urlencoded", []byte("payload=%7B%22a%22%3A1%7D&x=%20"), "application/x-www-form-urlencoded"},
		{"xml", "application/xml", []byte(`<?xml version="1.0"?><event id="1"/>`), "application/xml"},
		{"no content type", "", []byte("raw bytes, no type"), "application/octet-stream"},
		{"empty body", "text/plain", []byte{}, "text/plain"},
	}
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	secret := newSecret(t)
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("raw")}
		cfg.Destinations = []webhook.Destination{testDestination("sink", rcv.URL(), secret, "raw")}
	})
	ids := make([]string, len(cases))
	for i, tc := range cases {
		h := http.Header{}
		if tc.contentType != "" {
			h.Set("Content-Type", tc.contentType)
		}
		status, raw := ta.post(t, "/webhook/raw", tc.body, h)
		if status != http.StatusAccepted {
			t.Fatalf("%s: status %d, body %s; want 202", tc.name, status, raw)
		}
		ids[i] = decodeAccepted(t, raw).ID
	}
	ta.waitTerminal(t, 15*time.Second, len(cases), webhook.StatusSuccess)
	byWebhookID := map[string]receiver.Arrival{}
	for _, a := range rcv.Arrivals() {
		byWebhookID[a.WebhookID] = a
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := ta.deliveriesByDestination(t, ids[i])["sink"]
			a, ok := byWebhookID[d.ID]
			if !ok {
				t.Fatalf("delivery %s never arrived", d.ID)
			}
			checkArrival(t, "sink", a, d.ID, tc.body, tc.wantType, secret)
		})
	}
}

// TestRetriesToPermanentFailure drives a delivery to a receiver that
// always answers 500 through every retry: 1+MAX_RETRIES attempts spaced by
// the exponential backoff, each stored with its status code, error,
// duration and the first KiB of the response, the statuses moving pending →
// failed → permanent_failure for the delivery and its event.
func TestRetriesToPermanentFailure(t *testing.T) {
	t.Parallel()
	const maxRetries = 3
	const base = 50 * time.Millisecond
	answer := bytes.Repeat([]byte("0123456789abcdef"), 128) // 2 KiB
	// The first try waits for the test to look at the store mid-attempt.
	firstTry, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	fail := func(ctx context.Context, a receiver.Arrival) int {
		if a.Try == 1 {
			close(firstTry)
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return http.StatusInternalServerError
	}
	rcv := startShapedReceiver(t, fail, func(h http.Header) []byte {
		h.Set("Content-Type", "text/plain")
		return answer
	})
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = maxRetries
		cfg.RetryBaseDelay = base
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("dead", rcv.URL(), newSecret(t), "github")}
	})
	acc := ta.mustAccept(t, "github", []byte(`{"n":1}`), jsonHeader())
	if acc.Status != webhook.StatusPending {
		t.Errorf("202 status = %q; want pending", acc.Status)
	}
	select {
	case <-firstTry:
	case <-time.After(10 * time.Second):
		t.Fatal("the first try never arrived")
	}
	d := ta.deliveriesByDestination(t, acc.ID)["dead"]
	if d.Status != webhook.StatusPending || d.Attempts != 0 {
		t.Errorf("during the first try the delivery is %q after %d attempts; want pending after 0", d.Status, d.Attempts)
	}
	if ev, err := ta.Store().EventGet(context.Background(), acc.ID); err != nil || ev.Status != webhook.StatusPending {
		t.Errorf("during the first try the event is %q (%v); want pending", ev.Status, err)
	}
	releaseOnce.Do(func() { close(release) })

	recs := ta.waitTerminal(t, 20*time.Second, 1, webhook.StatusPermanentFailure)
	var deliveryStatuses, eventStatuses []webhook.Status
	for _, r := range recs {
		deliveryStatuses = append(deliveryStatuses, r.Status)
		eventStatuses = append(eventStatuses, r.EventStatus)
	}
	want := []webhook.Status{webhook.StatusFailed, webhook.StatusFailed, webhook.StatusFailed, webhook.StatusPermanentFailure}
	if fmt.Sprint(deliveryStatuses) != fmt.Sprint(want) {
		t.Errorf("delivery statuses after each attempt = %v; want %v", deliveryStatuses, want)
	}
	if fmt.Sprint(eventStatuses) != fmt.Sprint(want) {
		t.Errorf("event statuses after each attempt = %v; want %v", eventStatuses, want)
	}

	attempts := ta.attempts(t, d.ID)
	if len(attempts) != 1+maxRetries {
		t.Fatalf("%d attempts stored; want %d", len(attempts), 1+maxRetries)
	}
	for i, a := range attempts {
		if a.Number != i+1 || a.StatusCode != http.StatusInternalServerError || !strings.Contains(a.Error, "500") || a.Duration <= 0 {
			t.Errorf("attempt %d = number %d, status %d, error %q, duration %s; want number %d, 500, an error naming 500, a duration",
				i, a.Number, a.StatusCode, a.Error, a.Duration, i+1)
		}
		if !bytes.Equal(a.ResponseBody, answer[:webhook.MaxResponseExcerpt]) {
			t.Errorf("attempt %d kept %d bytes of the response; want its first %d", a.Number, len(a.ResponseBody), webhook.MaxResponseExcerpt)
		}
	}
	checkBackoff(t, attempts, base)

	final := ta.deliveriesByDestination(t, acc.ID)["dead"]
	if final.Status != webhook.StatusPermanentFailure || final.Attempts != 1+maxRetries || final.LastError == "" {
		t.Errorf("final delivery = status %q, attempts %d, last error %q; want permanent_failure, %d, an error",
			final.Status, final.Attempts, final.LastError, 1+maxRetries)
	}
	ev, err := ta.Store().EventGet(context.Background(), acc.ID)
	if err != nil {
		t.Fatalf("EventGet: %v", err)
	}
	if ev.Status != webhook.StatusPermanentFailure {
		t.Errorf("event status = %q; want permanent_failure", ev.Status)
	}
	if tries := rcv.Tries()[d.ID]; tries != 1+maxRetries {
		t.Errorf("receiver saw %d tries of %s; want %d", tries, d.ID, 1+maxRetries)
	}
}

// checkBackoff checks that the wait before retry n, from the end of one
// attempt to the start of the next, is at least the backoff's lowest value
// (base·2^(n-1) less 20% jitter), which no constant or linear schedule
// would meet, and not far above its highest.
func checkBackoff(t *testing.T, attempts []webhook.Attempt, base time.Duration) {
	t.Helper()
	// Generous: a claim may wait for the engine's one-second poll.
	const slack = 1500 * time.Millisecond
	var gaps []time.Duration
	for n := 1; n < len(attempts); n++ {
		prev := attempts[n-1]
		gap := attempts[n].StartedAt.Sub(prev.StartedAt.Add(prev.Duration))
		gaps = append(gaps, gap)
		nominal := base << (n - 1)
		low := nominal*8/10 - time.Millisecond // stored times are microseconds
		high := nominal*12/10 + slack
		if gap < low || gap > high {
			t.Errorf("gap before retry %d = %s; want between %s and %s (base %s·2^%d ±20%%)", n, gap, low, high, base, n-1)
		}
	}
	if len(gaps) >= 3 && gaps[2] <= gaps[0] {
		t.Errorf("gaps between attempts %v do not grow", gaps)
	}
}

// TestRetryThenSuccess: a receiver that fails twice and then answers 200
// ends in success after exactly three attempts.
func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.FailFirst(2, http.StatusServiceUnavailable))
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 5
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("flaky", rcv.URL(), newSecret(t), "github")}
	})
	acc := ta.mustAccept(t, "github", []byte(`{"n":2}`), jsonHeader())
	recs := ta.waitTerminal(t, 15*time.Second, 1, webhook.StatusSuccess)
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%d:%s", r.Attempt.StatusCode, r.Status))
	}
	if want := "[503:failed 503:failed 200:success]"; fmt.Sprint(got) != want {
		t.Errorf("attempts = %v; want %s", got, want)
	}
	d := ta.deliveriesByDestination(t, acc.ID)["flaky"]
	if d.Status != webhook.StatusSuccess || d.Attempts != 3 {
		t.Errorf("delivery = %q after %d attempts; want success after 3", d.Status, d.Attempts)
	}
	if attempts := ta.attempts(t, d.ID); len(attempts) != 3 || attempts[2].Error != "" {
		t.Errorf("stored attempts = %+v; want 3, the last without error", attempts)
	}
	ev, err := ta.Store().EventGet(context.Background(), acc.ID)
	if err != nil {
		t.Fatalf("EventGet: %v", err)
	}
	if ev.Status != webhook.StatusSuccess {
		t.Errorf("event status = %q; want success", ev.Status)
	}
}

// TestRetryAfterIsHonoured: a Retry-After from the receiver, in seconds or
// as an HTTP date, holds the next attempt back even though the backoff
// alone would retry after about 20ms.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		status     int
		retryAfter func() string
	}{
		{"503 with seconds", http.StatusServiceUnavailable, func() string { return "1" }},
		{"429 with seconds", http.StatusTooManyRequests, func() string { return "1" }},
		// An HTTP date has whole seconds: two seconds ahead is at least one.
		{"503 with HTTP date", http.StatusServiceUnavailable, func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := startShapedReceiver(t, receiver.FailFirst(1, tc.status), func(h http.Header) []byte {
				h.Set("Retry-After", tc.retryAfter())
				return nil
			})
			ta := setup(t, func(cfg *config.Config) {
				cfg.MaxRetries = 2
				cfg.RetryBaseDelay = 20 * time.Millisecond
				cfg.Sources = []webhook.Source{testSource("github")}
				cfg.Destinations = []webhook.Destination{testDestination("busy", rcv.URL(), newSecret(t), "github")}
			})
			acc := ta.mustAccept(t, "github", []byte(`{"n":3}`), jsonHeader())
			ta.waitTerminal(t, 15*time.Second, 1, webhook.StatusSuccess)
			d := ta.deliveriesByDestination(t, acc.ID)["busy"]
			attempts := ta.attempts(t, d.ID)
			if len(attempts) != 2 || attempts[0].StatusCode != tc.status || attempts[1].StatusCode != http.StatusOK {
				t.Fatalf("attempts = %+v; want %d then 200", attempts, tc.status)
			}
			first := attempts[0]
			gap := attempts[1].StartedAt.Sub(first.StartedAt.Add(first.Duration))
			if gap < time.Second-time.Millisecond {
				t.Errorf("retry came %s after the first try ended; Retry-After asked for at least 1s", gap)
			}
			if gap > 5*time.Second {
				t.Errorf("retry came %s after the first try ended; want about 1-2s", gap)
			}
		})
	}
}

// TestRedirectsAreFailures: a 3xx is the receiver's answer, a failure that
// is retried, and never followed; the URL it points to is never called.
func TestRedirectsAreFailures(t *testing.T) {
	t.Parallel()
	target := startReceiver(t, receiver.Always(http.StatusOK))
	codes := []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect}
	var dests []webhook.Destination
	for _, code := range codes {
		rcv := startShapedReceiver(t, receiver.Always(code), func(h http.Header) []byte {
			h.Set("Location", target.URL()+"/moved")
			return nil
		})
		dests = append(dests, testDestination(strconv.Itoa(code), rcv.URL(), newSecret(t), "github"))
	}
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 1
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = dests
	})
	acc := ta.mustAccept(t, "github", []byte(`{"n":4}`), jsonHeader())
	ta.waitTerminal(t, 15*time.Second, len(codes), webhook.StatusPermanentFailure)
	byDest := ta.deliveriesByDestination(t, acc.ID)
	for _, code := range codes {
		d := byDest[strconv.Itoa(code)]
		attempts := ta.attempts(t, d.ID)
		if len(attempts) != 2 {
			t.Errorf("%d: %d attempts; want 2", code, len(attempts))
		}
		for _, a := range attempts {
			if a.StatusCode != code || !strings.Contains(a.Error, "redirect") {
				t.Errorf("%d: attempt %d recorded status %d, error %q; want %d and an error about redirects", code, a.Number, a.StatusCode, a.Error, code)
			}
		}
		if d.Status != webhook.StatusPermanentFailure {
			t.Errorf("%d: delivery status %q; want permanent_failure", code, d.Status)
		}
	}
	if n := len(target.Arrivals()); n != 0 {
		t.Errorf("the redirect target was called %d times; want never", n)
	}
}

// TestConnectionRefusedIsRetried: a destination nobody listens on is
// retried, and every attempt is stored with the network error.
func TestConnectionRefusedIsRetried(t *testing.T) {
	t.Parallel()
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 2
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("gone", "http://"+closedAddr(t), newSecret(t), "github")}
	})
	acc := ta.mustAccept(t, "github", []byte(`{"n":5}`), jsonHeader())
	recs := ta.waitTerminal(t, 15*time.Second, 1, webhook.StatusPermanentFailure)
	if len(recs) != 3 {
		t.Errorf("%d attempts recorded; want 3", len(recs))
	}
	d := ta.deliveriesByDestination(t, acc.ID)["gone"]
	attempts := ta.attempts(t, d.ID)
	if len(attempts) != 3 {
		t.Fatalf("%d attempts stored; want 3", len(attempts))
	}
	for _, a := range attempts {
		if a.StatusCode != 0 || !strings.Contains(a.Error, "connection refused") {
			t.Errorf("attempt %d: status %d, error %q; want no status and \"connection refused\"", a.Number, a.StatusCode, a.Error)
		}
	}
	if d.Status != webhook.StatusPermanentFailure || !strings.Contains(d.LastError, "connection refused") {
		t.Errorf("delivery = %q, last error %q; want permanent_failure, connection refused", d.Status, d.LastError)
	}
}

// TestFailuresAreRetried: every kind of failed attempt other than a 3xx
// (covered above) and 410 (TestGoneDisablesDestination) — client errors,
// 408, 429, a timeout, a connection closed without an answer — is recorded
// with its reason and retried until the delivery is dead.
func TestFailuresAreRetried(t *testing.T) {
	t.Parallel()
	hang := func(ctx context.Context, _ receiver.Arrival) int {
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		return http.StatusOK
	}
	cases := []struct {
		name    string
		url     string // set below for receivers
		status  int    // recorded
		errText string // in the recorded error
		timeout time.Duration
	}{
		{name: "400", status: 400, errText: "HTTP 400"},
		{name: "401", status: 401, errText: "HTTP 401"},
		{name: "404", status: 404, errText: "HTTP 404"},
		{name: "408", status: 408, errText: "HTTP 408"},
		{name: "429", status: 429, errText: "HTTP 429"},
		{name: "503", status: 503, errText: "HTTP 503"},
		{name: "timeout", errText: "timeout", timeout: 200 * time.Millisecond},
		{name: "closed without answer", url: "http://" + hangUpAddr(t)},
	}
	var dests []webhook.Destination
	for i, tc := range cases {
		switch {
		case tc.status != 0:
			cases[i].url = startReceiver(t, receiver.Always(tc.status)).URL()
		case tc.timeout != 0:
			cases[i].url = startReceiver(t, hang).URL()
		}
		d := testDestination(tc.name, cases[i].url, newSecret(t), "github")
		if tc.timeout != 0 {
			d.Timeout = tc.timeout
		}
		dests = append(dests, d)
	}
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 1
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = dests
	})
	acc := ta.mustAccept(t, "github", []byte(`{"n":9}`), jsonHeader())
	ta.waitTerminal(t, 15*time.Second, len(cases), webhook.StatusPermanentFailure)
	byDest := ta.deliveriesByDestination(t, acc.ID)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := byDest[tc.name]
			attempts := ta.attempts(t, d.ID)
			if len(attempts) != 2 {
				t.Errorf("%d attempts; want 2", len(attempts))
			}
			for _, a := range attempts {
				if a.StatusCode != tc.status || a.Error == "" || !strings.Contains(a.Error, tc.errText) {
					t.Errorf("attempt %d: status %d, error %q; want %d and an error containing %q", a.Number, a.StatusCode, a.Error, tc.status, tc.errText)
				}
			}
			if d.Status != webhook.StatusPermanentFailure {
				t.Errorf("delivery %q; want permanent_failure", d.Status)
			}
		})
	}
}

// TestPrivateDestinationsRefusedByDefault: without
// HOOKD_ALLOW_PRIVATE_DESTINATIONS a loopback destination is never called;
// each attempt is stored with an error that names the setting.
func TestPrivateDestinationsRefusedByDefault(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.AllowPrivateDestinations = false
		cfg.MaxRetries = 1
		cfg.RetryBaseDelay = 20 * time.Millisecond
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("local", rcv.URL(), newSecret(t), "github")}
	})
	acc := ta.mustAccept(t, "github", []byte(`{"n":10}`), jsonHeader())
	ta.waitTerminal(t, 15*time.Second, 1, webhook.StatusPermanentFailure)
	d := ta.deliveriesByDestination(t, acc.ID)["local"]
	for _, a := range ta.attempts(t, d.ID) {
		if a.StatusCode != 0 || !strings.Contains(a.Error, "127.0.0.1") || !strings.Contains(a.Error, "HOOKD_ALLOW_PRIVATE_DESTINATIONS") {
			t.Errorf("attempt %d: status %d, error %q; want no answer and an error naming 127.0.0.1 and HOOKD_ALLOW_PRIVATE_DESTINATIONS", a.Number, a.StatusCode, a.Error)
		}
	}
	if n := len(rcv.Arrivals()); n != 0 {
		t.Errorf("the loopback receiver was called %d times; want never", n)
	}
}

// TestAllowDestinationCIDRs: HOOKD_ALLOW_DESTINATION_CIDRS opens the listed
// internal network only: a destination on 127.0.0.1 is delivered to while
// every private address is still refused by default.
func TestAllowDestinationCIDRs(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.AllowPrivateDestinations = false
		cfg.AllowDestinationCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{
			testDestination("allowed", rcv.URL(), newSecret(t), "github"),
			// Same receiver by another loopback address, outside the list.
			testDestination("other", strings.Replace(rcv.URL(), "127.0.0.1", "127.0.0.2", 1), newSecret(t), "github"),
		}
		cfg.MaxRetries = 0
	})
	acc := ta.mustAccept(t, "github", []byte(`{"n":11}`), jsonHeader())
	ta.records.waitFor(t, 15*time.Second, "both deliveries to end", func(rs []attemptRecord) bool { return countTerminal(rs) >= 2 })
	ds := ta.deliveriesByDestination(t, acc.ID)
	if ds["allowed"].Status != webhook.StatusSuccess {
		t.Errorf("delivery to the allowed network: %+v; want success", ds["allowed"])
	}
	if ds["other"].Status != webhook.StatusPermanentFailure {
		t.Errorf("delivery to 127.0.0.2: %+v; want permanent_failure (refused)", ds["other"])
	}
	if n := len(rcv.Arrivals()); n != 1 {
		t.Errorf("receiver called %d times; want once", n)
	}
}

// TestIdempotency: a provider's delivery id, in each place hookd reads it,
// makes a repeated webhook answer with the first event's id and store
// nothing; the same id on another source is another event.
func TestIdempotency(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		header http.Header
		body   string
	}{
		{"X-GitHub-Delivery", http.Header{"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"}}, `{"n":6}`},
		{"Idempotency-Key", http.Header{"Idempotency-Key": {"key-8f14e45f"}}, `{"n":6}`},
		{"webhook-id", http.Header{"Webhook-Id": {"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}}, `{"n":6}`},
		{"X-Shopify-Webhook-Id", http.Header{"X-Shopify-Webhook-Id": {"b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}}, `{"n":6}`},
		{"Stripe event id in the body", http.Header{"Stripe-Signature": {"t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"}},
			`{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"charge.succeeded"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := startReceiver(t, receiver.Always(http.StatusOK))
			ta := setup(t, func(cfg *config.Config) {
				cfg.Sources = []webhook.Source{testSource("github"), testSource("shop")}
				cfg.Destinations = []webhook.Destination{testDestination("sink", rcv.URL(), newSecret(t), "github", "shop")}
			})
			h := jsonHeader()
			for k, v := range tc.header {
				h[k] = v
			}
			first := ta.mustAccept(t, "github", []byte(tc.body), h)
			again := ta.mustAccept(t, "github", []byte(tc.body), h)
			if again.ID != first.ID {
				t.Errorf("repeated webhook got id %s; want the first one's, %s", again.ID, first.ID)
			}
			other := ta.mustAccept(t, "shop", []byte(tc.body), h)
			if other.ID == first.ID {
				t.Errorf("same key on another source got the same id %s; want a new event", other.ID)
			}
			ta.waitTerminal(t, 15*time.Second, 2, webhook.StatusSuccess)
			ta.checkRows(t, 2, 2)
			if n := len(rcv.Arrivals()); n != 2 {
				t.Errorf("receiver got %d arrivals; want 2 (one per source)", n)
			}
			for id, n := range rcv.Tries() {
				if n != 1 {
					t.Errorf("delivery %s arrived %d times; want once", id, n)
				}
			}
		})
	}
}

// TestIdempotencyUnderConcurrency: twenty concurrent copies of one webhook
// store one event and are delivered once.
func TestIdempotencyUnderConcurrency(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("sink", rcv.URL(), newSecret(t), "github")}
	})
	const copies = 20
	ids := make([]string, copies)
	errs := make([]error, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			h := jsonHeader()
			h.Set("X-GitHub-Delivery", "same-delivery-for-all")
			status, raw, err := ta.tryPost("/webhook/github", []byte(`{"n":7}`), h)
			switch {
			case err != nil:
				errs[i] = err
			case status != http.StatusAccepted:
				errs[i] = fmt.Errorf("status %d, body %s", status, raw)
			default:
				var r struct{ ID string }
				errs[i] = json.Unmarshal(raw, &r)
				ids[i] = r.ID
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		if ids[i] != ids[0] {
			t.Errorf("copy %d got id %s; copy 0 got %s", i, ids[i], ids[0])
		}
	}
	ta.waitTerminal(t, 15*time.Second, 1, webhook.StatusSuccess)
	ta.checkRows(t, 1, 1)
	if n := len(rcv.Arrivals()); n != 1 {
		t.Errorf("receiver got %d arrivals; want 1", n)
	}
}

// TestHeadOfLineIsolation: a destination that hangs holds at most its
// max_in_flight attempts, and deliveries of the same events to a healthy
// destination arrive without waiting for it.
func TestHeadOfLineIsolation(t *testing.T) {
	t.Parallel()
	const events = 40
	const hangCap = 4
	var hanging, maxHanging atomic.Int64
	hang := startReceiver(t, func(ctx context.Context, _ receiver.Arrival) int {
		n := hanging.Add(1)
		defer hanging.Add(-1)
		for m := maxHanging.Load(); n > m && !maxHanging.CompareAndSwap(m, n); m = maxHanging.Load() {
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		return http.StatusOK
	})
	healthy := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("github")}
		slow := testDestination("hang", hang.URL(), newSecret(t), "github")
		slow.MaxInFlight = hangCap
		slow.Timeout = 15 * time.Second
		cfg.Destinations = []webhook.Destination{slow, testDestination("healthy", healthy.URL(), newSecret(t), "github")}
		// Fewer workers than events, so that only the per-destination cap
		// keeps the hanging destination from taking them all.
		cfg.Workers = 16
		cfg.ShutdownTimeout = time.Second
	})
	// Registered after setup, so it runs before the App stops: the hung
	// requests end at once instead of holding the shutdown.
	t.Cleanup(hang.Close)

	start := time.Now()
	for i := range events {
		ta.mustAccept(t, "github", fmt.Appendf(nil, `{"n":%d}`, i), jsonHeader())
	}
	healthy.waitFor(t, 5*time.Second-time.Since(start), "every event at the healthy destination", func(as []receiver.Arrival) bool {
		return len(as) >= events
	})
	t.Logf("%d deliveries to the healthy destination in %s while the other hangs", events, time.Since(start))
	if m := maxHanging.Load(); m < 1 || m > hangCap {
		t.Errorf("the hanging destination held %d attempts at once; want 1..%d (its max_in_flight)", m, hangCap)
	}
	// Once the healthy deliveries are recorded, the hanging destination's
	// attempts are the only leased ones; the rest of its backlog waits, due.
	ta.waitTerminal(t, 5*time.Second, events, webhook.StatusSuccess)
	st := ta.debugStatus(t)
	if st["in_flight"] != hangCap || st["queue_length"] != events-hangCap {
		t.Errorf("/debug/status = %v; want in_flight %d and queue_length %d", st, hangCap, events-hangCap)
	}
}

// TestBadInput sends every kind of bad request: each gets its status and a
// JSON {"error","code"} body, nothing is stored, and a good request still
// works afterwards.
func TestBadInput(t *testing.T) {
	t.Parallel()
	const ghSecret = "It's a Secret to Everybody"
	const limit = 32
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setup(t, func(cfg *config.Config) {
		signed := testSource("signed")
		signed.Verify = webhook.Verify{Type: "github", Secret: ghSecret}
		tiny := testSource("tiny")
		tiny.MaxBodyBytes = limit
		cfg.Sources = []webhook.Source{signed, tiny}
		cfg.Destinations = []webhook.Destination{testDestination("sink", rcv.URL(), newSecret(t), "signed", "tiny")}
	})
	good := []byte(`{"zen":"Keep it logically awesome."}`)
	withSig := func(sig string) http.Header {
		h := jsonHeader()
		h.Set("X-Hub-Signature-256", sig)
		return h
	}
	cases := []struct {
		name    string
		method  string
		path    string
		body    []byte
		header  http.Header
		chunked bool // hide the length, so only reading finds the limit
		status  int
		code    string
	}{
		{"unknown source", "POST", "/webhook/nope", good, jsonHeader(), false, 404, "unknown_source"},
		{"body over limit", "POST", "/webhook/tiny", bytes.Repeat([]byte("x"), limit+1), nil, false, 413, "body_too_large"},
		{"chunked body over limit", "POST", "/webhook/tiny", bytes.Repeat([]byte("x"), 10*limit), nil, true, 413, "body_too_large"},
		{"GET on a source", "GET", "/webhook/tiny", nil, nil, false, 405, "method_not_allowed"},
		{"unknown path", "POST", "/nowhere", good, jsonHeader(), false, 404, "not_found"},
		{"missing signature", "POST", "/webhook/signed", good, jsonHeader(), false, 401, "invalid_signature"},
		{"signature with another secret", "POST", "/webhook/signed", good, withSig(githubSignature("not the secret", good)), false, 401, "invalid_signature"},
		{"signature of another body", "POST", "/webhook/signed", good, withSig(githubSignature(ghSecret, []byte(`{}`))), false, 401, "invalid_signature"},
		{"malformed signature", "POST", "/webhook/signed", good, withSig("sha256=zz"), false, 401, "invalid_signature"},
		{"sha1 signature", "POST", "/webhook/signed", good, withSig("sha1=" + strings.Repeat("0", 40)), false, 401, "invalid_signature"},
		{"idempotency key too long", "POST", "/webhook/tiny", []byte(`{}`), http.Header{"Idempotency-Key": {strings.Repeat("k", 256)}}, false, 400, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // not a type NewRequest can measure
			}
			req, err := http.NewRequestWithContext(t.Context(), tc.method, ta.base+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := ta.client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d; want %d (body %s)", resp.StatusCode, tc.status, raw)
			}
			if allow := resp.Header.Get("Allow"); tc.status == http.StatusMethodNotAllowed && allow != http.MethodPost {
				t.Errorf("Allow %q; want POST", allow)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q; want application/json", ct)
			}
			var e map[string]string
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("error body %q is not a JSON object of strings: %v", raw, err)
			}
			if e["error"] == "" || e["code"] != tc.code {
				t.Errorf("error body %s; want {\"error\": \"...\", \"code\": %q}", raw, tc.code)
			}
			if strings.Contains(string(raw), ghSecret) {
				t.Errorf("error body %s leaks the source secret", raw)
			}
		})
	}
	ta.checkRows(t, 0, 0)

	signed := ta.mustAccept(t, "signed", good, withSig(githubSignature(ghSecret, good)))
	atLimit := ta.mustAccept(t, "tiny", bytes.Repeat([]byte("y"), limit), nil)
	ta.waitTerminal(t, 15*time.Second, 2, webhook.StatusSuccess)
	ta.checkRows(t, 2, 2)
	for _, id := range []string{signed.ID, atLimit.ID} {
		if d := ta.deliveriesByDestination(t, id)["sink"]; d.Status != webhook.StatusSuccess {
			t.Errorf("delivery of %s: %q; want success", id, d.Status)
		}
	}
}

// TestOperationsEndpoints: /healthz and /readyz answer 200, and
// /debug/status reports the queue as JSON, its dead count rising when a
// delivery reaches permanent_failure.
func TestOperationsEndpoints(t *testing.T) {
	t.Parallel()
	dead := startReceiver(t, receiver.Always(http.StatusInternalServerError))
	ta := setup(t, func(cfg *config.Config) {
		cfg.MaxRetries = 0
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("dead", dead.URL(), newSecret(t), "github")}
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, raw := ta.get(t, path); status != http.StatusOK {
			t.Errorf("GET %s: %d %s; want 200", path, status, raw)
		}
	}
	before := ta.debugStatus(t)
	if before["dead"] != 0 {
		t.Errorf("dead = %d before any failure; want 0", before["dead"])
	}
	ta.mustAccept(t, "github", []byte(`{"n":8}`), jsonHeader())
	ta.waitTerminal(t, 15*time.Second, 1, webhook.StatusPermanentFailure)
	after := ta.debugStatus(t)
	if after["dead"] != before["dead"]+1 {
		t.Errorf("dead = %d after a permanent failure; want %d", after["dead"], before["dead"]+1)
	}
	for _, k := range []string{"queue_length", "scheduled_retries", "in_flight"} {
		if after[k] != 0 {
			t.Errorf("%s = %d with nothing left to do; want 0", k, after[k])
		}
	}
}

// TestSecondAppOnSameDatabase: the embedded store belongs to one process;
// another App on the same file is refused with a message that says why.
func TestSecondAppOnSameDatabase(t *testing.T) {
	t.Parallel()
	ta := setup(t, func(cfg *config.Config) {})
	cfg := ta.cfg
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	second, err := app.New(t.Context(), cfg, app.Options{Listener: ln, Stderr: io.Discard})
	if err == nil {
		stopErr := second.Stop(context.Background())
		t.Fatalf("a second App opened %s (stop: %v); want an error", cfg.DatabaseURL, stopErr)
	}
	if !strings.Contains(err.Error(), "in use by another hookd process") || !strings.Contains(err.Error(), ta.dbPath) {
		t.Errorf("error = %q; want it to say %s is in use by another hookd process", err, ta.dbPath)
	}
	// The first App is unharmed.
	if status, raw := ta.get(t, "/readyz"); status != http.StatusOK {
		t.Errorf("first App /readyz: %d %s", status, raw)
	}
}

// --- helpers -------------------------------------------------------------

// testApp is a running App on loopback with a temporary SQLite file.
type testApp struct {
	*app.App
	cfg     config.Config
	base    string
	dbPath  string
	client  *http.Client
	records *watch[attemptRecord]
	stderr  *syncBuffer
}

// attemptRecord is what AfterRecord reported, with the event's status read
// back from the store just after the record committed.
type attemptRecord struct {
	store.AttemptRecordParams
	EventStatus webhook.Status
}

// setup starts an App configured for tests (loopback destinations allowed,
// fast retries) after configure has adjusted the configuration, and stops
// it when the test ends.
func setup(t *testing.T, configure func(cfg *config.Config)) *testApp {
	t.Helper()
	return setupWith(t, configure, nil)
}

// setupWith is setup that also lets the test adjust the App's options.
func setupWith(t *testing.T, configure func(cfg *config.Config), adjust func(opts *app.Options)) *testApp {
	t.Helper()
	cfg := config.Default()
	cfg.Host = "127.0.0.1"
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "hookd.db")
	cfg.AllowPrivateDestinations = true
	cfg.MaxRetries = 3
	cfg.RetryBaseDelay = 50 * time.Millisecond
	cfg.RetryMaxDelay = 5 * time.Second
	cfg.ShutdownTimeout = 5 * time.Second
	configure(&cfg)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	logs := &syncBuffer{}
	ta := &testApp{
		cfg:     cfg,
		client:  &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second},
		records: newWatch[attemptRecord](),
		stderr:  &syncBuffer{},
	}
	if dbPath, ok := cfg.SQLitePath(); ok {
		ta.dbPath = dbPath // checkRows reads the file directly
	}
	var st store.Store // set before Start; read by the engine's workers after
	opts := app.Options{
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stderr:   ta.stderr,
		Listener: ln,
		AfterRecord: func(p store.AttemptRecordParams) {
			rec := attemptRecord{AttemptRecordParams: p}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if ev, err := st.EventGet(ctx, p.EventID); err == nil {
				rec.EventStatus = ev.Status
			}
			ta.records.add(rec)
		},
	}
	if adjust != nil {
		adjust(&opts)
	}
	a, err := app.New(t.Context(), cfg, opts)
	if err != nil {
		ln.Close()
		t.Fatalf("app.New: %v", err)
	}
	st = a.Store()
	ta.App = a
	if err := a.Start(t.Context()); err != nil {
		stopErr := a.Stop(context.Background())
		t.Fatalf("Start: %v (stop: %v)", err, stopErr)
	}
	ta.base = "http://" + a.Addr()
	t.Cleanup(func() {
		ta.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if t.Failed() {
			t.Logf("hookd log:\n%s", logs.String())
		}
	})
	return ta
}

// TestNewEventWakesDelivery proves that delivery starts on ingest's
// notification, not on the dispatcher's poll: with the poll an hour apart,
// the event still arrives at once.
func TestNewEventWakesDelivery(t *testing.T) {
	t.Parallel()
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	ta := setupWith(t, func(cfg *config.Config) {
		cfg.Sources = []webhook.Source{testSource("github")}
		cfg.Destinations = []webhook.Destination{testDestination("d", rcv.URL(), newSecret(t), "github")}
	}, func(opts *app.Options) { opts.PollInterval = time.Hour })
	// The dispatcher's first claim runs at start; wait until it has, so
	// that only the wake-up can find the next event.
	ta.mustAccept(t, "github", []byte(`{"n":1}`), jsonHeader())
	ta.waitTerminal(t, 10*time.Second, 1, webhook.StatusSuccess)
	ta.mustAccept(t, "github", []byte(`{"n":2}`), jsonHeader())
	ta.waitTerminal(t, 10*time.Second, 2, webhook.StatusSuccess)
}

// tryPost posts body to path and returns the status and response body.
func (ta *testApp) tryPost(path string, body []byte, header http.Header) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, ta.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[http.CanonicalHeaderKey(k)] = v
	}
	resp, err := ta.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

func (ta *testApp) post(t *testing.T, path string, body []byte, header http.Header) (int, []byte) {
	t.Helper()
	status, raw, err := ta.tryPost(path, body, header)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return status, raw
}

type accepted struct {
	ID     string         `json:"id"`
	Status webhook.Status `json:"status"`
}

func decodeAccepted(t *testing.T, raw []byte) accepted {
	t.Helper()
	var acc accepted
	if err := json.Unmarshal(raw, &acc); err != nil || acc.ID == "" {
		t.Fatalf("202 body %q: want {\"id\",\"status\"} (err %v)", raw, err)
	}
	return acc
}

// mustAccept posts a webhook to source and fails unless it gets 202.
func (ta *testApp) mustAccept(t *testing.T, source string, body []byte, header http.Header) accepted {
	t.Helper()
	status, raw := ta.post(t, "/webhook/"+source, body, header)
	if status != http.StatusAccepted {
		t.Fatalf("POST /webhook/%s: %d %s; want 202", source, status, raw)
	}
	return decodeAccepted(t, raw)
}

func (ta *testApp) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := ta.client.Get(ta.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", path, err)
	}
	return resp.StatusCode, raw
}

// debugStatus returns GET /debug/status, requiring its four counters.
func (ta *testApp) debugStatus(t *testing.T) map[string]int64 {
	t.Helper()
	status, raw := ta.get(t, "/debug/status")
	if status != http.StatusOK {
		t.Fatalf("GET /debug/status: %d %s", status, raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("/debug/status body %q: %v", raw, err)
	}
	out := map[string]int64{}
	for _, k := range []string{"queue_length", "scheduled_retries", "in_flight", "dead"} {
		v, ok := m[k].(float64)
		if !ok {
			t.Fatalf("/debug/status %s: no number %q", raw, k)
		}
		out[k] = int64(v)
	}
	return out
}

func (ta *testApp) deliveriesByDestination(t *testing.T, eventID string) map[string]webhook.Delivery {
	t.Helper()
	ds, err := ta.Store().DeliveryListByEvent(context.Background(), eventID)
	if err != nil {
		t.Fatalf("DeliveryListByEvent(%s): %v", eventID, err)
	}
	out := map[string]webhook.Delivery{}
	for _, d := range ds {
		if _, dup := out[d.Destination]; dup {
			t.Fatalf("event %s has two deliveries to %s", eventID, d.Destination)
		}
		out[d.Destination] = d
	}
	return out
}

func (ta *testApp) attempts(t *testing.T, deliveryID string) []webhook.Attempt {
	t.Helper()
	as, err := ta.Store().AttemptListByDelivery(context.Background(), deliveryID)
	if err != nil {
		t.Fatalf("AttemptListByDelivery(%s): %v", deliveryID, err)
	}
	return as
}

// checkRows counts the events and deliveries in the database file. The
// Store has no listing method, so this reads the file with SQL of its own
// (SQLite in WAL mode lets a reader in beside the App).
func (ta *testApp) checkRows(t *testing.T, events, deliveries int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+ta.dbPath+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("open %s: %v", ta.dbPath, err)
	}
	defer db.Close()
	for _, c := range []struct {
		table string
		want  int
	}{{"events", events}, {"deliveries", deliveries}} {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + c.table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", c.table, err)
		}
		if n != c.want {
			t.Errorf("%d rows in %s; want %d", n, c.table, c.want)
		}
	}
}

var generatedSecret = regexp.MustCompile(`destination "([^"]+)".*:\n\s+(whsec_\S+)`)

// generatedSecret returns the secret hookd generated for dest and printed
// once on its Stderr.
func (ta *testApp) generatedSecret(t *testing.T, dest string) string {
	t.Helper()
	for _, m := range generatedSecret.FindAllStringSubmatch(ta.stderr.String(), -1) {
		if m[1] == dest {
			return m[2]
		}
	}
	t.Fatalf("no generated secret for %q in %q", dest, ta.stderr.String())
	return ""
}

// checkArrival checks one request at a receiver: webhook-id, body,
// content type, User-Agent, a recent timestamp and a signature that the
// Standard Webhooks reference library accepts with the destination's
// secret (and refuses with another).
func checkArrival(t *testing.T, dest string, a receiver.Arrival, deliveryID string, body []byte, contentType, secret string) {
	t.Helper()
	if a.WebhookID != deliveryID {
		t.Errorf("%s try %d: webhook-id %q; want the delivery id %q", dest, a.Try, a.WebhookID, deliveryID)
	}
	if !bytes.Equal(a.Body, body) {
		t.Errorf("%s try %d: body %q; want %q", dest, a.Try, a.Body, body)
	}
	if got := a.Header.Get("Content-Type"); got != contentType {
		t.Errorf("%s try %d: Content-Type %q; want %q", dest, a.Try, got, contentType)
	}
	if got, want := a.Header.Get("User-Agent"), "hookd/"+app.Version; got != want {
		t.Errorf("%s try %d: User-Agent %q; want %q", dest, a.Try, got, want)
	}
	ts, err := strconv.ParseInt(a.Header.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Errorf("%s try %d: webhook-timestamp %q; want Unix seconds of about now", dest, a.Try, a.Header.Get("webhook-timestamp"))
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook: %v", err)
	}
	if err := wh.Verify(a.Body, a.Header); err != nil {
		t.Errorf("%s try %d: reference library refuses the signature %q: %v", dest, a.Try, a.Header.Get("webhook-signature"), err)
	}
	other, err := standardwebhooks.NewWebhook(newSecret(t))
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook: %v", err)
	}
	if err := other.Verify(a.Body, a.Header); err == nil {
		t.Errorf("%s try %d: signature verifies with an unrelated secret", dest, a.Try)
	}
}

// waitTerminal waits until n deliveries have ended and fails the test
// unless every one ended in want. It returns the records so far.
func (ta *testApp) waitTerminal(t *testing.T, timeout time.Duration, n int, want webhook.Status) []attemptRecord {
	t.Helper()
	recs := ta.records.waitFor(t, timeout, fmt.Sprintf("%d deliveries to end in %s", n, want), func(rs []attemptRecord) bool {
		return countTerminal(rs) >= n
	})
	if got := countFinal(recs, want); got != n || countTerminal(recs) != n {
		var ends []string
		for _, r := range recs {
			ends = append(ends, fmt.Sprintf("%s#%d:%d:%s", r.Attempt.DeliveryID, r.Attempt.Number, r.Attempt.StatusCode, r.Status))
		}
		t.Fatalf("%d deliveries ended, %d of them in %s; want %d, all %s; attempts: %v", countTerminal(recs), got, want, n, want, ends)
	}
	return recs
}

// countTerminal counts records that ended a delivery, either way.
func countTerminal(rs []attemptRecord) int {
	n := 0
	for _, r := range rs {
		if r.Status.Terminal() {
			n++
		}
	}
	return n
}

// countFinal counts records that moved a delivery to status.
func countFinal(rs []attemptRecord, status webhook.Status) int {
	n := 0
	for _, r := range rs {
		if r.Status == status {
			n++
		}
	}
	return n
}

func testSource(name string) webhook.Source {
	return webhook.Source{Name: name, MaxBodyBytes: config.DefaultMaxBodyBytes}
}

func testDestination(name, url, secret string, sources ...string) webhook.Destination {
	return webhook.Destination{
		Name: name, URL: url + "/hook", Sources: sources, Secret: secret,
		Timeout: 5 * time.Second, MaxInFlight: config.DefaultMaxInFlight,
	}
}

// newSecret makes a Standard Webhooks secret without hookd's help.
func newSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// githubSignature computes X-Hub-Signature-256 as GitHub does.
func githubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

// closedAddr returns a loopback address where nothing listens: port 1,
// below the ephemeral range every test listener takes its port from, so
// that no test running beside this one can come to listen there (as it
// could on a port just closed).
func closedAddr(t *testing.T) string {
	t.Helper()
	const addr = "127.0.0.1:1"
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("something listens on %s; these tests need it closed", addr)
	}
	return addr
}

// hangUpAddr returns a loopback address that accepts connections and
// closes them without answering.
func hangUpAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			conn.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// sink is a receiver whose arrivals a test can wait for.
type sink struct {
	*receiver.Receiver
	*watch[receiver.Arrival]
	url string
}

// URL is where the receiver is reached (shadowing receiver.Receiver's, which
// a shaped receiver does not serve on).
func (s *sink) URL() string { return s.url }

// Arrivals shadows the embedded watch's items with the receiver's own list.
func (s *sink) Arrivals() []receiver.Arrival { return s.Receiver.Arrivals() }

// startReceiver starts a receiver on loopback, closed when the test ends.
func startReceiver(t *testing.T, b receiver.Behavior) *sink {
	t.Helper()
	w := newWatch[receiver.Arrival]()
	r, err := receiver.Start(b, receiver.Options{Keep: true, OnArrival: w.add})
	if err != nil {
		t.Fatalf("receiver.Start: %v", err)
	}
	t.Cleanup(r.Close)
	return &sink{Receiver: r, watch: w, url: r.URL()}
}

// startShapedReceiver is startReceiver for answers that need more than a
// status: a receiver.Behavior chooses only the status, so the receiver's
// handler is served behind a wrapper that sets the headers respond chooses
// and then writes the body it returns.
func startShapedReceiver(t *testing.T, b receiver.Behavior, respond func(h http.Header) []byte) *sink {
	t.Helper()
	s := startReceiver(t, b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := respond(w.Header())
		s.Receiver.ServeHTTP(w, r)
		_, _ = w.Write(body) // hookd may hang up early; the test checks what it stored
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// watch collects values reported from other goroutines and lets a test
// wait, without sleeping, until they satisfy a condition.
type watch[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every add
}

func newWatch[T any]() *watch[T] {
	return &watch[T]{changed: make(chan struct{})}
}

func (w *watch[T]) add(v T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.items = append(w.items, v)
	close(w.changed)
	w.changed = make(chan struct{})
}

// waitFor returns the items once cond holds for them, failing the test
// after timeout.
func (w *watch[T]) waitFor(t *testing.T, timeout time.Duration, what string, cond func([]T) bool) []T {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		items := append([]T(nil), w.items...)
		changed := w.changed
		w.mu.Unlock()
		if cond(items) {
			return items
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("timed out after %s waiting for %s (%d reports so far)", timeout, what, len(items))
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
