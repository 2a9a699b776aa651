package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/egress"
	"github.com/hookd/hookd/internal/webhook"
)

// TestTransportReason classifies the errors a real client gets from real
// loopback servers, each passed through describe as send does, so that
// the reason survives the text an operator sees.
func TestTransportReason(t *testing.T) {
	t.Parallel()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(ok.Close)
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(untrusted.Close)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		conn.(*net.TCPConn).SetLinger(0) // close with RST
		conn.Close()
	}))
	t.Cleanup(reset.Close)
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	open := egress.NewClient(egress.Options{AllowPrivate: true})
	guarded := egress.NewClient(egress.Options{})
	tests := []struct {
		name   string
		client *http.Client
		url    string
		want   webhook.FailureReason
	}{
		{"answer", open, ok.URL, webhook.ReasonNone},
		{"refused", open, closed, webhook.ReasonConnectRefused},
		{"untrusted certificate", open, untrusted.URL, webhook.ReasonTLS},
		{"timeout", open, slow.URL, webhook.ReasonTimeout},
		{"reset", open, reset.URL, webhook.ReasonConnectionReset},
		{"private address refused", guarded, ok.URL, webhook.ReasonSSRFRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tt.client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			res := sendResult{status: 200}
			if err != nil {
				res = sendResult{err: transportFailure(err, 300*time.Millisecond)}
			}
			if got := res.reason(); got != tt.want {
				t.Errorf("reason = %q, want %q (error %v)", got, tt.want, err)
			}
		})
	}
}

func TestSendResultReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		res  sendResult
		want webhook.FailureReason
	}{
		{"2xx", sendResult{status: 204}, webhook.ReasonNone},
		{"3xx", sendResult{status: 302}, webhook.ReasonHTTP3xx},
		{"404", sendResult{status: 404}, webhook.ReasonHTTP4xx},
		{"429", sendResult{status: 429}, webhook.ReasonHTTP4xx},
		{"503", sendResult{status: 503}, webhook.ReasonHTTP5xx},
		{"1xx", sendResult{status: 101}, webhook.ReasonHTTPOther},
		{"999", sendResult{status: 999}, webhook.ReasonHTTPOther},
		{"dns", sendResult{err: withReason(transportReason(&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}), errors.New("dns: x"))}, webhook.ReasonDNS},
		{"transform", sendResult{err: fmt.Errorf("transform %q: %w: bad path", "t", webhook.ErrTransform)}, webhook.ReasonTransformError},
		{"transform wins over a carried reason", sendResult{err: withReason(webhook.ReasonConfig, fmt.Errorf("x: %w", webhook.ErrTransform))}, webhook.ReasonTransformError},
		{"config", sendResult{err: withReason(webhook.ReasonConfig, errors.New("bad destination URL"))}, webhook.ReasonConfig},
		{"unclassified error", sendResult{err: errors.New("something")}, webhook.ReasonOther},
		{"too many redirects", sendResult{err: withReason(transportReason(fmt.Errorf("get: %w", egress.ErrTooManyRedirects)), errors.New("x"))}, webhook.ReasonHTTP3xx},
	}
	for _, tt := range tests {
		if got := tt.res.reason(); got != tt.want {
			t.Errorf("%s: reason = %q, want %q", tt.name, got, tt.want)
		}
		if got := tt.res.reason(); got != webhook.ReasonNone && !got.Valid() {
			t.Errorf("%s: %q is not in the vocabulary", tt.name, got)
		}
	}
}
