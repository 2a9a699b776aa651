package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// TestOrderedDelivery runs ordered delivery end to end on SQLite and the
// embedded queue: the receiver fails the first try of key A's first
// event, so A's second event waits for A's retry to succeed, while key B's
// events flow meanwhile; an event whose key program yields null joins the
// fallback sequence and is still delivered.
func TestOrderedDelivery(t *testing.T) {
	t.Parallel()
	type msg struct {
		Key string `json:"key"`
		Seq int    `json:"seq"`
	}
	parse := func(body []byte) msg {
		var m msg
		_ = json.Unmarshal(body, &m) // a body that is not one stays the zero msg
		return m
	}
	rcv := startReceiver(t, func(_ context.Context, a receiver.Arrival) int {
		if m := parse(a.Body); m.Key == "A" && m.Seq == 1 && a.Try == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	ta := setup(t, func(cfg *config.Config) {
		cfg.RetryBaseDelay = 700 * time.Millisecond // long enough for key B to pass A's retry
		cfg.Sources = []webhook.Source{testSource("shop")}
		d := testDestination("orders", rcv.URL(), newSecret(t), "shop")
		d.Ordering = &webhook.Ordering{Key: ".payload.key"}
		cfg.Destinations = []webhook.Destination{d}
	})
	post := func(key string, seq int) {
		body := fmt.Appendf(nil, `{"key":%q,"seq":%d}`, key, seq)
		if key == "" {
			body = fmt.Appendf(nil, `{"seq":%d}`, seq)
		}
		ta.mustAccept(t, "shop", body, jsonHeader())
	}
	post("A", 1)
	post("A", 2)
	post("B", 1)
	post("B", 2)
	post("", 1) // no key: the fallback sequence
	ta.waitTerminal(t, 20*time.Second, 5, webhook.StatusSuccess)

	arrivals := rcv.Arrivals()
	index := map[string][]int{} // "A1" -> positions of its arrivals
	for i, a := range arrivals {
		m := parse(a.Body)
		index[fmt.Sprintf("%s%d", m.Key, m.Seq)] = append(index[fmt.Sprintf("%s%d", m.Key, m.Seq)], i)
	}
	if n := len(index["A1"]); n != 2 {
		t.Fatalf("A1 arrived %d times; want 2 (a failure, then the retry): %v", n, index)
	}
	if len(index["A2"]) != 1 || index["A2"][0] < index["A1"][1] {
		t.Errorf("A2 arrived at %v, before A1 succeeded at %d", index["A2"], index["A1"][1])
	}
	if len(index["B1"]) != 1 || len(index["B2"]) != 1 || index["B1"][0] > index["B2"][0] {
		t.Errorf("B1 at %v, B2 at %v: want each once, in order", index["B1"], index["B2"])
	}
	if index["B2"][0] > index["A1"][1] {
		t.Errorf("key B waited for key A's retry: B2 at %d, A1's retry at %d", index["B2"][0], index["A1"][1])
	}
	if len(index["0"]) != 0 || len(index["1"]) != 1 {
		t.Errorf("the keyless event arrived %v times; want once", index)
	}
}
