package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/signing"
)

// runVerify runs the built binary's verify command and returns its exit
// code, standard output and standard error.
func runVerify(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(hookdBin, append([]string{"verify"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = baseEnv(cmd.Dir)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errOut.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errOut.String()
	}
	t.Fatalf("run hookd verify: %v", err)
	return 0, "", ""
}

// referenceSign signs with the Standard Webhooks reference library, so
// that the command is checked against an implementation other than
// hookd's own.
func referenceSign(t *testing.T, secret, id string, ts time.Time, body []byte) string {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	newSec, oldSec, otherSec := signing.NewSecret(), signing.NewSecret(), signing.NewSecret()
	body := []byte(`{"type":"invoice.paid","amount":4200}` + "\n")
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	const id = "dlv_01JVERIFY"
	sigNew := referenceSign(t, newSec, id, now, body)
	sigOld := referenceSign(t, oldSec, id, now, body)
	rotating := sigNew + " " + sigOld
	stale := now.Add(-time.Hour)
	sigStale := referenceSign(t, newSec, id, stale, body)
	bodyFile := writeFile(t, "body.json", body)

	headerArgs := func(sig string) []string { return []string{"--id", id, "--timestamp", ts, "--signature", sig} }
	tests := []struct {
		name    string
		stdin   []byte
		args    []string
		code    int
		message string // in stdout when code is 0, in stderr otherwise
	}{
		{"valid, payload file", nil, append([]string{bodyFile, "--secret", newSec}, headerArgs(sigNew)...), 0, "valid: signed with secret #1 of 1"},
		{"valid, payload on stdin", body, append([]string{"--secret", newSec}, headerArgs(sigNew)...), 0, "valid"},
		{"valid, payload on stdin as -", body, append([]string{"-", "--secret", newSec}, headerArgs(sigNew)...), 0, "valid"},
		{"rotation: receiver knows the new secret", body, append([]string{"--secret", newSec}, headerArgs(rotating)...), 0, "valid"},
		{"rotation: receiver knows the old secret", body, append([]string{"--secret", oldSec}, headerArgs(rotating)...), 0, "valid"},
		{"receiver accepts two secrets, the second matches", body, append([]string{"--secret", otherSec, "--secret", oldSec}, headerArgs(sigOld)...), 0, "valid: signed with secret #2 of 2"},
		{"wrong secret", body, append([]string{"--secret", otherSec}, headerArgs(sigNew)...), 1, "invalid: no matching signature"},
		{"old secret after the rotation", body, append([]string{"--secret", oldSec}, headerArgs(sigNew)...), 1, "no matching signature"},
		{"payload changed", []byte(`{"type":"invoice.paid","amount":42000}`), append([]string{"--secret", newSec}, headerArgs(sigNew)...), 1, "no matching signature"},
		{"payload with a trailing newline removed", bytes.TrimSpace(body), append([]string{"--secret", newSec}, headerArgs(sigNew)...), 1, "no matching signature"},
		{"other id", body, []string{"--secret", newSec, "--id", "dlv_other", "--timestamp", ts, "--signature", sigNew}, 1, "no matching signature"},
		{"stale timestamp", body, []string{"--secret", newSec, "--id", id, "--timestamp", strconv.FormatInt(stale.Unix(), 10), "--signature", sigStale}, 1, "timestamp outside tolerance"},
		{"stale timestamp, wider tolerance", body, []string{"--secret", newSec, "--tolerance", "2h", "--id", id, "--timestamp", strconv.FormatInt(stale.Unix(), 10), "--signature", sigStale}, 0, "valid"},
		{"stale timestamp, check skipped", body, []string{"--secret", newSec, "--tolerance", "0", "--id", id, "--timestamp", strconv.FormatInt(stale.Unix(), 10), "--signature", sigStale}, 0, "valid"},
		{"check skipped, timestamp still signed", body, []string{"--secret", newSec, "--tolerance", "0", "--id", id, "--timestamp", ts, "--signature", sigStale}, 1, "no matching signature"},
		{"timestamp not a number", body, append([]string{"--secret", newSec}, "--id", id, "--timestamp", "yesterday", "--signature", sigNew), 1, "not a Unix time"},
		{"no signature", body, []string{"--secret", newSec, "--id", id, "--timestamp", ts}, 1, "missing header: webhook-signature"},
		{"no id", body, []string{"--secret", newSec, "--timestamp", ts, "--signature", sigNew}, 1, "missing header: webhook-id"},
		{"no secret", body, headerArgs(sigNew), 1, "--secret is required"},
		{"bad secret", body, append([]string{"--secret", "whsec_short"}, headerArgs(sigNew)...), 1, "--secret #1: signing secret must be whsec_"},
		{"missing payload file", nil, append([]string{filepath.Join(t.TempDir(), "nope.json"), "--secret", newSec}, headerArgs(sigNew)...), 1, "read payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runVerify(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tt.code, stdout, stderr)
			}
			where := stdout
			if code != 0 {
				where = stderr
			}
			if !strings.Contains(where, tt.message) {
				t.Errorf("output %q, want it to say %q", where, tt.message)
			}
			if strings.Contains(stdout+stderr, newSec) || strings.Contains(stdout+stderr, oldSec) {
				t.Errorf("output echoes a secret: %q %q", stdout, stderr)
			}
		})
	}
}

func TestVerifyCommandHeadersFile(t *testing.T) {
	t.Parallel()
	secret := signing.NewSecret()
	body := []byte("plain text body")
	now := time.Now()
	sig := referenceSign(t, secret, "msg_file", now, body)
	raw := fmt.Sprintf("POST /hooks/in HTTP/1.1\r\nHost: receiver.example\r\nContent-Type: text/plain\r\n"+
		"Webhook-Id: msg_file\r\nwebhook-timestamp: %d\r\nWEBHOOK-SIGNATURE: v1,bm90IHRoaXMgb25l\r\nwebhook-signature: %s\r\nX-Long:\r\n  folded\r\n\r\nbody: ignored\r\n", now.Unix(), sig)
	headers := writeFile(t, "headers.txt", []byte(raw))
	bodyFile := writeFile(t, "body.txt", body)

	code, stdout, stderr := runVerify(t, nil, bodyFile, "--headers-file", headers, "--secret", secret)
	if code != 0 || !strings.Contains(stdout, "valid") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want valid", code, stdout, stderr)
	}
	// A flag overrides the file.
	code, _, stderr = runVerify(t, nil, bodyFile, "--headers-file", headers, "--secret", secret, "--id", "msg_other")
	if code != 1 || !strings.Contains(stderr, "no matching signature") {
		t.Errorf("with --id overriding: exit %d, stderr %q; want 1 and no matching signature", code, stderr)
	}
	bad := writeFile(t, "bad.txt", []byte("webhook-id msg_file\n"))
	code, _, stderr = runVerify(t, nil, bodyFile, "--headers-file", bad, "--secret", secret)
	if code != 1 || !strings.Contains(stderr, "line 1: not a \"Name: value\" header") {
		t.Errorf("malformed headers file: exit %d, stderr %q; want 1 naming line 1", code, stderr)
	}
}

// TestVerifyCommandOnARotatingDelivery runs hookd serve with a destination
// in the middle of a secret rotation, saves a delivery as a receiver would
// log it, and verifies it with hookd verify knowing only the old secret,
// then only the new one.
func TestVerifyCommandOnARotatingDelivery(t *testing.T) {
	t.Parallel()
	const newSec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // serveSetup's destination secret
	oldSec := signing.NewSecret()
	arrived := make(chan receiver.Arrival, 1)
	rcv := startReceiver(t, receiver.Always(http.StatusOK), func(a receiver.Arrival) {
		select {
		case arrived <- a:
		default:
		}
	})
	dir := t.TempDir()
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	env, args := serveSetup(t, dir, rcv.URL(), "previous_secret: "+oldSec+"\n    previous_secret_until: "+until, false)
	p := startHookd(t, dir, env, args...)
	base := p.waitReady(t, 30*time.Second)
	if code, resp, err := post(newClient(t, false), base+"/webhook/burst", []byte(`{"n":1}`)); err != nil || code != http.StatusAccepted {
		t.Fatalf("POST /webhook/burst: %d %s %v", code, resp, err)
	}
	var a receiver.Arrival
	select {
	case a = <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery arrived")
	}
	var logged strings.Builder
	fmt.Fprintf(&logged, "POST /hook HTTP/1.1\n")
	if err := a.Header.Write(&logged); err != nil {
		t.Fatal(err)
	}
	headers := writeFile(t, "headers.txt", []byte(logged.String()))
	bodyFile := writeFile(t, "body.json", a.Body)
	for name, secret := range map[string]string{"old": oldSec, "new": newSec} {
		code, stdout, stderr := runVerify(t, nil, bodyFile, "--headers-file", headers, "--secret", secret)
		if code != 0 {
			t.Errorf("knowing only the %s secret: exit %d, stdout %q, stderr %q; want valid", name, code, stdout, stderr)
		}
	}
}

// FuzzParseRawHeaders feeds arbitrary text to the headers-file parser: it
// must never panic, and what it returns must hold only valid names.
func FuzzParseRawHeaders(f *testing.F) {
	f.Add("POST /hook HTTP/1.1\r\nwebhook-id: a\r\n\r\nbody")
	f.Add("HTTP/1.1 200 OK\nX: y\n")
	f.Add(":method: POST\n:path: /\nwebhook-id: a\n  folded\n\tmore\n")
	f.Add(" leading continuation\n")
	f.Add("\n\n\nA:\nB: c: d\n")
	f.Add("bad header line")
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := parseRawHeaders(raw)
		if err != nil {
			return
		}
		for name := range h {
			if name == "" || strings.ContainsAny(name, " \t\r\n:") {
				t.Fatalf("parsed header name %q from %q", name, raw)
			}
		}
	})
}
