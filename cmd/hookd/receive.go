package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/signing"
)

// receiveCommand is `hookd receive`: a local receiver that prints every
// delivery and checks its Standard Webhooks signature, for trying hookd out
// and for debugging a destination.
func receiveCommand() *cobra.Command {
	var (
		port   int
		secret string
		status int
	)
	cmd := &cobra.Command{
		Use:   "receive",
		Short: "Run a local webhook receiver that prints deliveries and verifies their signatures",
		Long: `receive listens on 127.0.0.1 and prints every request it gets: its
webhook-id, headers and body. With --secret (the destination's whsec_
secret) it also verifies the webhook-signature header, as a receiver should.
--status makes it answer with another code, to watch hookd retry.`,
		Example: `  hookd receive --port 3000 --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
  hookd receive --status 503`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var signer *signing.Signer
			if secret != "" {
				var err error
				if signer, err = signing.NewSigner(secret); err != nil {
					return fmt.Errorf("--secret: %w", err)
				}
			}
			out := cmd.OutOrStdout()
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return err
			}
			behavior := func(_ context.Context, a receiver.Arrival) int {
				verdict := "not checked (no --secret)"
				if signer != nil {
					verdict = "valid"
					ts, err := strconv.ParseInt(a.Header.Get(signing.HeaderTimestamp), 10, 64)
					if err != nil {
						verdict = "INVALID: bad webhook-timestamp"
					} else if err := signer.Verify(a.WebhookID, time.Unix(ts, 0), a.Body, a.Header.Get(signing.HeaderSignature), time.Now(), 5*time.Minute); err != nil {
						verdict = "INVALID: " + err.Error()
					}
				}
				fmt.Fprintf(out, "%s  webhook-id %s (try %d)  signature %s\n", a.At.Format(time.TimeOnly), a.WebhookID, a.Try, verdict)
				fmt.Fprintf(out, "  Content-Type: %s  User-Agent: %s\n  %s\n", a.Header.Get("Content-Type"), a.Header.Get("User-Agent"), a.Body)
				return status
			}
			r, err := receiver.Serve(ln, behavior, receiver.Options{})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "receiving on %s, answering %d\n", r.URL(), status)
			<-cmd.Context().Done()
			r.Close()
			return nil
		},
	}
	cmd.Flags().IntVarP(&port, "port", "p", 3000, "port to listen on (127.0.0.1)")
	cmd.Flags().StringVar(&secret, "secret", "", "the destination's whsec_ secret, to verify signatures")
	cmd.Flags().IntVar(&status, "status", http.StatusOK, "HTTP status to answer")
	return cmd
}
