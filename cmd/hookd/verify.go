package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/signing"
)

// verifyCommand is `hookd verify`: the receiver's side of a signed
// delivery, for scripts, for checking a receiver's own code against, and
// for finding out why a receiver refuses deliveries.
func verifyCommand() *cobra.Command {
	var (
		secrets     []string
		id          string
		timestamp   string
		signature   string
		headersFile string
		tolerance   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify [PAYLOAD_FILE]",
		Short: "Check a delivery's Standard Webhooks signature, as a receiver does",
		Long: `verify reads a delivery's body from PAYLOAD_FILE (or standard input when it
is absent or "-") and checks its webhook-signature against the destination's
whsec_ secret. The three headers come from --id, --timestamp and
--signature, or from --headers-file, a file of raw HTTP headers (a request
line first is fine) as a receiver logged them; flags override the file.

Give --secret once per secret the receiver accepts: during a rotation a
delivery carries one signature per secret, and either secret verifies it.

It exits 0 and prints which secret matched when the signature is valid, and
exits 1 with the reason otherwise. A timestamp further than --tolerance from
now is refused as a possible replay; --tolerance 0 skips that check (to
verify a delivery logged long ago).`,
		Example: `  hookd verify body.json --secret whsec_... --id dlv_01J... --timestamp 1735689600 --signature 'v1,K5o...'
  hookd verify --headers-file headers.txt --secret whsec_NEW --secret whsec_OLD < body.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(secrets) == 0 {
				return errors.New("--secret is required (the destination's whsec_ secret)")
			}
			signers := make([]*signing.Signer, len(secrets))
			for i, s := range secrets {
				var err error
				if signers[i], err = signing.NewSigner(s); err != nil {
					return fmt.Errorf("--secret #%d: %w", i+1, err)
				}
			}
			h := http.Header{}
			if headersFile != "" {
				raw, err := os.ReadFile(headersFile)
				if err != nil {
					return fmt.Errorf("--headers-file: %w", err)
				}
				if h, err = parseRawHeaders(string(raw)); err != nil {
					return fmt.Errorf("--headers-file %s: %w", headersFile, err)
				}
			}
			// Several webhook-signature lines are one list, as if joined.
			if sigs := h.Values(signing.HeaderSignature); len(sigs) > 1 {
				h.Set(signing.HeaderSignature, strings.Join(sigs, " "))
			}
			for name, value := range map[string]string{signing.HeaderID: id, signing.HeaderTimestamp: timestamp, signing.HeaderSignature: signature} {
				if value != "" {
					h.Set(name, value)
				}
			}
			body, err := readPayload(cmd, args)
			if err != nil {
				return err
			}
			now := time.Now()
			check := func(s *signing.Signer) error { return s.VerifyHeader(h, body, now, tolerance) }
			if tolerance == 0 {
				check = func(s *signing.Signer) error {
					// The timestamp is still signed: verify at its own time.
					ts, err := parseUnix(h.Get(signing.HeaderTimestamp))
					if err != nil {
						return s.VerifyHeader(h, body, now, time.Hour) // reports the missing or bad header
					}
					return s.VerifyHeader(h, body, ts, time.Second)
				}
			}
			var firstErr error
			for i, s := range signers {
				err := check(s)
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "valid: signed with secret #%d of %d\n", i+1, len(signers))
					return nil
				}
				if firstErr == nil || !errors.Is(err, signing.ErrNoMatchingSignature) {
					firstErr = err // a header or timestamp problem says more than a mismatch
				}
			}
			return fmt.Errorf("invalid: %w", firstErr)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&secrets, "secret", nil, "whsec_ secret the receiver accepts (repeat for a rotation)")
	f.StringVar(&id, "id", "", "the webhook-id header")
	f.StringVar(&timestamp, "timestamp", "", "the webhook-timestamp header (Unix seconds)")
	f.StringVar(&signature, "signature", "", "the webhook-signature header (v1,<base64>, space-separated)")
	f.StringVar(&headersFile, "headers-file", "", "file of raw HTTP headers holding webhook-id, webhook-timestamp and webhook-signature")
	f.DurationVar(&tolerance, "tolerance", 5*time.Minute, "how far webhook-timestamp may be from now; 0 skips the check")
	return cmd
}

func readPayload(cmd *cobra.Command, args []string) ([]byte, error) {
	if len(args) == 0 || args[0] == "-" {
		body, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, fmt.Errorf("read payload from standard input: %w", err)
		}
		return body, nil
	}
	body, err := os.ReadFile(args[0])
	if err != nil {
		return nil, fmt.Errorf("read payload: %w", err)
	}
	return body, nil
}

func parseUnix(s string) (time.Time, error) {
	unix, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(unix, 0), nil
}

// startLine matches an HTTP request or status line.
var startLine = regexp.MustCompile(`^([A-Z]+ \S+ HTTP/\d(\.\d)?|HTTP/\d(\.\d)? \d{3}\b.*)$`)

// headerName is an HTTP field name (RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// parseRawHeaders reads headers as a receiver logs them: "Name: value"
// lines, CRLF or LF, an optional request or status line first, folded
// continuation lines, HTTP/2 pseudo-headers (":method") skipped. It stops
// at the first blank line after a header, where a body would begin.
func parseRawHeaders(raw string) (http.Header, error) {
	h := http.Header{}
	last := ""
	for n, line := range strings.Split(raw, "\n") {
		line = strings.TrimSuffix(line, "\r")
		switch {
		case strings.TrimSpace(line) == "":
			if len(h) > 0 {
				return h, nil
			}
		case n == 0 && startLine.MatchString(line):
		case strings.HasPrefix(line, ":"):
			last = ""
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("line %d: continuation without a header before it", n+1)
			}
			vs := h[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(line)
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || !headerName.MatchString(name) {
				return nil, fmt.Errorf("line %d: not a \"Name: value\" header", n+1)
			}
			last = http.CanonicalHeaderKey(name)
			h.Add(last, strings.TrimSpace(value))
		}
	}
	return h, nil
}
