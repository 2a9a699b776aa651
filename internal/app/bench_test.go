package app_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/receiver"
	"github.com/hookd/hookd/internal/webhook"
)

// benchApp starts hookd on loopback with one source and, when withReceiver,
// one destination served by a local receiver that counts arrivals.
func benchApp(b *testing.B, withReceiver bool) (url string, arrived chan struct{}) {
	b.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite://" + filepath.Join(b.TempDir(), "hookd.db")
	cfg.AllowPrivateDestinations = true
	cfg.Sources = []webhook.Source{{Name: "bench", MaxBodyBytes: config.DefaultMaxBodyBytes}}
	arrived = make(chan struct{}, 1<<20)
	if withReceiver {
		r, err := receiver.Start(receiver.Always(http.StatusOK), receiver.Options{OnArrival: func(receiver.Arrival) { arrived <- struct{}{} }})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(r.Close)
		cfg.Destinations = []webhook.Destination{{Name: "r", URL: r.URL() + "/hooks", Sources: []string{"bench"}, Timeout: 10 * time.Second, MaxInFlight: 64}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Listener: ln, Stderr: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Stop(context.Background()) })
	return "http://" + a.Addr() + "/webhook/bench", arrived
}

var benchBody = bytes.Repeat([]byte("x"), 250)

func post(b *testing.B, client *http.Client, url string) {
	body := append([]byte(`{"type":"bench.event","pad":"`), benchBody...)
	body = append(body, `"}`...)
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Errorf("status %d", resp.StatusCode)
	}
}

// BenchmarkIngest measures durable ingests (202 after commit) from 64
// concurrent senders; no destination, so nothing else competes.
func BenchmarkIngest(b *testing.B) {
	url, _ := benchApp(b, false)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	b.SetParallelism(32) // 64 senders on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post(b, client, url)
		}
	})
}

// BenchmarkIngestAndDeliver measures the whole path: ns/op is per event
// from the first send until the last delivery has arrived.
func BenchmarkIngestAndDeliver(b *testing.B) {
	url, arrived := benchApp(b, true)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post(b, client, url)
		}
	})
	for range b.N {
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			b.Fatal("deliveries stopped arriving")
		}
	}
}
