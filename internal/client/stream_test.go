package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/stream"
)

func TestSSEReader(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		input string
		want  []sseMessage
	}{
		{
			name:  "hookd's messages and a heartbeat",
			input: "id: 1\nevent: event.created\ndata: {\"a\":1}\n\n: heartbeat\n\nid: 2\nevent: delivery.succeeded\ndata: {}\n\n",
			want:  []sseMessage{{"1", "event.created", `{"a":1}`}, {"2", "delivery.succeeded", "{}"}},
		},
		{
			name:  "CRLF and CR line endings",
			input: "event: x\r\ndata: 1\r\n\r\nevent: y\rdata: 2\r\r",
			want:  []sseMessage{{"", "x", "1"}, {"", "y", "2"}},
		},
		{
			name:  "data lines join, one space dropped, no name means message",
			input: "data:a\ndata:  b\ndata\n\n",
			want:  []sseMessage{{"", "message", "a\n b\n"}},
		},
		{
			name:  "a message without data is not dispatched",
			input: "event: ping\n\ndata: x\n\n",
			want:  []sseMessage{{"", "message", "x"}},
		},
		{
			name:  "an unfinished message at the end is dropped",
			input: "data: complete\n\ndata: cut off",
			want:  []sseMessage{{"", "message", "complete"}},
		},
		{
			name:  "unknown fields and retry are ignored",
			input: "retry: 10\nfoo: bar\ndata: x\n\n",
			want:  []sseMessage{{"", "message", "x"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newSSEReader(strings.NewReader(tc.input))
			var got []sseMessage
			for {
				m, err := r.next(nil)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("next: %v", err)
				}
				got = append(got, m)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// FuzzSSEReader: any input parses without panicking, and messages written
// the way the server writes them come back whole, whatever surrounds them.
func FuzzSSEReader(f *testing.F) {
	f.Add("id: 1\nevent: event.created\ndata: {\"kind\":\"event.created\"}\n\n", `{"x":"y"}`)
	f.Add(": heartbeat\r\n\r\n", "")
	f.Add("data\rdata:\r\n\n", "a b")
	f.Add("\r", "\x00")
	f.Fuzz(func(t *testing.T, noise, data string) {
		r := newSSEReader(strings.NewReader(noise))
		for range 10000 {
			if _, err := r.next(nil); err != nil {
				break
			}
		}
		if strings.ContainsAny(data, "\r\n") || data == "" {
			return
		}
		// After a blank line, whatever noise left half-parsed is ended.
		input := noise + "\n\n\nid: 7\nevent: k\ndata: " + data + "\n\n"
		r = newSSEReader(strings.NewReader(input))
		var last sseMessage
		for {
			m, err := r.next(nil)
			if err != nil {
				break
			}
			last = m
		}
		if last.event != "k" || last.data != data {
			t.Errorf("last message %q; want event k, data %q", last, data)
		}
	})
}

// sseServer streams body, then holds the connection until the client
// goes.
func sseServer(t *testing.T, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.RawQuery != "source=github%2Cstripe&status=failed" {
			http.Error(w, `{"code":"invalid","error":"bad request `+r.URL.RawQuery+`"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, body)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{BaseURL: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var streamParams = StreamParams{Sources: []string{"github", "stripe"}, Statuses: []string{"failed"}}

func TestStreamChangesThenDropped(t *testing.T) {
	t.Parallel()
	c := sseServer(t, "id: 1\nevent: event.created\ndata: {\"kind\":\"event.created\",\"event_id\":\"evt_1\",\"source\":\"github\"}\n\n"+
		": heartbeat\n\n"+
		"id: 2\nevent: delivery.future\ndata: {\"event_id\":\"evt_1\"}\n\n"+
		"id: 3\nevent: dropped\ndata: {\"reason\":\"client fell behind; reconnect to resume\"}\n\n")
	s, err := c.Stream(t.Context(), streamParams)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	defer s.Close()
	if s.ServerTime().IsZero() {
		t.Error("ServerTime is zero; the server sent a Date header")
	}
	ch, err := s.Next()
	if err != nil || ch.Kind != stream.KindEventCreated || ch.EventID != "evt_1" || ch.Source != "github" {
		t.Fatalf("first change %+v, %v", ch, err)
	}
	ch, err = s.Next()
	if err != nil || ch.Kind != "delivery.future" {
		t.Fatalf("second change %+v, %v; want the unknown kind passed on", ch, err)
	}
	if _, err := s.Next(); !errors.Is(err, ErrDropped) {
		t.Fatalf("third: %v; want ErrDropped", err)
	}
}

func TestStreamRefused(t *testing.T) {
	t.Parallel()
	c := sseServer(t, "")
	_, err := c.Stream(t.Context(), StreamParams{Sources: []string{"other"}})
	if Code(err) != "invalid" || StatusCode(err) != http.StatusBadRequest {
		t.Fatalf("err %v; want the server's 400 invalid", err)
	}
}

func TestStreamIdle(t *testing.T) {
	t.Parallel()
	c := sseServer(t, ": heartbeat\n\n")
	p := streamParams
	p.Idle = 200 * time.Millisecond
	s, err := c.Stream(t.Context(), p)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	defer s.Close()
	start := time.Now()
	if _, err := s.Next(); !errors.Is(err, ErrIdle) {
		t.Fatalf("Next: %v; want ErrIdle", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the idle stream ended after %s; want about 200ms", took)
	}
}

func TestStreamClose(t *testing.T) {
	t.Parallel()
	c := sseServer(t, "")
	s, err := c.Stream(t.Context(), streamParams)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Next()
		done <- err
	}()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Next returned no error after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still blocked after Close")
	}
}
