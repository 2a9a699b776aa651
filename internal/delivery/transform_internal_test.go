package delivery

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// TestOutbound checks the request an attempt builds: unchanged without a
// transform, reshaped with one, and a transform's failure classified as
// transform_error with the text "transform: …".
func TestOutbound(t *testing.T) {
	t.Parallel()
	job := webhook.Job{
		Event:    webhook.Event{ID: "evt_1", Source: "stripe", Type: "charge.succeeded", Body: []byte(`{"amount":1500}`), ContentType: "application/json; charset=utf-8"},
		Delivery: webhook.Delivery{ID: "dlv_1"},
	}
	base := webhook.Destination{Name: "d", URL: "https://d.example.com/in", Headers: map[string]string{"X-Team": "core"}, Timeout: time.Second}
	tests := []struct {
		name      string
		transform string
		tls       bool
		method    string
		url       string
		ct        string
		body      string
		header    map[string]string
		errHas    string
	}{
		{name: "no transform", method: "POST", url: base.URL, ct: "application/json; charset=utf-8", body: `{"amount":1500}`, header: map[string]string{"X-Team": "core"}},
		{
			name: "reshaped", transform: `{method: "PATCH", url: (.url + "/\(.event_id)"), headers: (.headers + {"x-kind": .type}), payload: {cents: .payload.amount}}`,
			method: "PATCH", url: base.URL + "/evt_1", ct: "application/json; charset=utf-8", body: `{"cents":1500}`,
			header: map[string]string{"x-team": "core", "x-kind": "charge.succeeded"},
		},
		{name: "string payload", transform: `{payload: "a=\(.payload.amount)", headers: {"Content-Type": "text/plain"}}`, method: "POST", url: base.URL, ct: "text/plain", body: "a=1500", header: map[string]string{}},
		{name: "error", transform: `error("no customer")`, errHas: "transform: no customer"},
		{name: "no https with TLS settings", transform: `.url = "http://d.example.com/in"`, tls: true, errHas: "must be https://"},
		{name: "stored program that no longer compiles", transform: `{a:`, errHas: "transform: line 1"},
	}
	e := &Engine{opts: Options{}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := base
			d.Transform = tt.transform
			if tt.tls {
				d.CACert = "-----BEGIN CERTIFICATE-----"
			}
			out, ct, err := e.outbound(context.Background(), d, job)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.HasPrefix(err.Error(), "transform: ") {
					t.Fatalf("err = %v; want one starting \"transform: \" containing %q", err, tt.errHas)
				}
				if !errors.Is(err, webhook.ErrTransform) || (sendResult{err: err}).reason() != webhook.ReasonTransformError {
					t.Errorf("err %v is not classified as transform_error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Method != tt.method || out.URL != tt.url || ct != tt.ct || string(out.Body) != tt.body {
				t.Errorf("got %s %s (%s) %s; want %s %s (%s) %s", out.Method, out.URL, ct, out.Body, tt.method, tt.url, tt.ct, tt.body)
			}
			if len(out.Headers) != len(tt.header) {
				t.Errorf("headers %v; want %v", out.Headers, tt.header)
			}
			for k, v := range tt.header {
				if out.Headers[k] != v {
					t.Errorf("headers %v; want %v", out.Headers, tt.header)
				}
			}
		})
	}
}
