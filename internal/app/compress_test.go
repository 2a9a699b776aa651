package app_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// TestCompressedBodiesDeliveredAsReceived runs the whole path with
// HOOKD_COMPRESS_OVER set: bodies over the size are stored compressed, yet
// every destination receives (and the signature covers) the bytes as
// received, and the API shows them so.
func TestCompressedBodiesDeliveredAsReceived(t *testing.T) {
	t.Parallel()
	var big strings.Builder
	for i := 0; big.Len() < 8<<10; i++ {
		fmt.Fprintf(&big, `{"line":%d,"sku":"w-%d","qty":%d},`, i, i*7, i%5)
	}
	bodies := [][]byte{
		[]byte(`{"items":[` + big.String() + `{}]}`), // compressed
		[]byte(`{"small":true}`),                     // under the size: as is
		bytes.Repeat([]byte{0, 0xff, 'x'}, 1000),     // binary, compressed
	}
	rcv := startReceiver(t, receiver.Always(http.StatusOK))
	secret := newSecret(t)
	ta := setup(t, func(cfg *config.Config) {
		cfg.CompressOver = 256
		cfg.AdminPassword = "correct horse battery staple"
		cfg.Sources = []webhook.Source{testSource("shop")}
		cfg.Destinations = []webhook.Destination{testDestination("sink", rcv.URL(), secret, "shop")}
	})
	ids := make([]string, len(bodies))
	for i, b := range bodies {
		ids[i] = ta.mustAccept(t, "shop", b, jsonHeader()).ID
	}
	ta.waitTerminal(t, 15*time.Second, len(bodies), webhook.StatusSuccess)
	byWebhookID := map[string]receiver.Arrival{}
	for _, a := range rcv.Arrivals() {
		byWebhookID[a.WebhookID] = a
	}
	token := ta.login(t)
	for i, b := range bodies {
		d := ta.deliveriesByDestination(t, ids[i])["sink"]
		a, ok := byWebhookID[d.ID]
		if !ok {
			t.Fatalf("body %d never arrived", i)
		}
		checkArrival(t, "sink", a, d.ID, b, "application/json", secret)
		status, raw := ta.call(t, token, http.MethodGet, "/api/webhooks/"+ids[i], nil)
		if status != http.StatusOK {
			t.Fatalf("GET event %d: %d %s", i, status, raw)
		}
		var ev struct {
			Payload         string `json:"payload"`
			PayloadEncoding string `json:"payload_encoding"`
			BodySize        int    `json:"body_size"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		got := []byte(ev.Payload)
		if ev.PayloadEncoding == "base64" {
			var err error
			if got, err = base64.StdEncoding.DecodeString(ev.Payload); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, b) || ev.BodySize != len(b) {
			t.Fatalf("event %d detail: %d bytes (body_size %d), want the %d bytes as received", i, len(got), ev.BodySize, len(b))
		}
	}
}
