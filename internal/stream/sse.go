package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrDropped is returned by ServeSSE when the subscription was dropped
// because the client did not keep up.
var ErrDropped = errors.New("stream: subscriber fell behind and was dropped")

// writeTimeout bounds each write to an SSE client. Without it a client that
// stops reading (but keeps its TCP connection open) would pin the handler
// goroutine forever; resetting the deadline before every write also keeps a
// server-wide http.Server.WriteTimeout from cutting long-lived streams.
const writeTimeout = 30 * time.Second

// droppedData is the body of the final "event: dropped" message.
const droppedData = `{"reason":"client fell behind; reconnect to resume"}`

// ServeSSE streams sub to the client as Server-Sent Events until the client
// goes away, the subscription is dropped or closed, or the hub closes. It
// writes the headers (Content-Type: text/event-stream, Cache-Control:
// no-cache, X-Accel-Buffering: no) and a 200 status, then for every change
//
//	id: <n>
//	event: <kind>
//	data: <change as JSON>
//
// where n counts messages from 1 within this connection (ids are not
// resumable; Last-Event-ID is ignored), and a ": heartbeat" comment every
// heartbeat interval (none if heartbeat <= 0) so proxies keep the
// connection open.
//
// ServeSSE does not close sub; whoever subscribed closes it. It returns nil
// when the client disconnects (r.Context() done) or the subscription was
// closed without being dropped; ErrDropped, after sending the changes still
// buffered and a final "event: dropped" message telling the client to
// reconnect, when the client fell behind; or the write error (wrapping
// http.ErrNotSupported if w cannot flush) otherwise.
func ServeSSE(w http.ResponseWriter, r *http.Request, sub *Subscription, heartbeat time.Duration) error {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// send writes msg (nothing if empty) and flushes it to the client.
	send := func(msg []byte) error {
		// Not every ResponseWriter supports deadlines; flushing is what SSE
		// cannot do without, and Flush reports that below.
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(msg); err != nil {
			return fmt.Errorf("stream: write: %w", err)
		}
		if err := rc.Flush(); err != nil {
			return fmt.Errorf("stream: flush: %w", err)
		}
		return nil
	}
	// A deadline left behind would cut the next request on a kept-alive
	// connection.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	if err := send(nil); err != nil { // headers out now, not with the first change
		return err
	}

	var tick <-chan time.Time
	if heartbeat > 0 {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		tick = t.C
	}
	var id uint64
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick:
			if err := send([]byte(": heartbeat\n\n")); err != nil {
				return err
			}
		case c, ok := <-sub.C():
			if !ok {
				if !sub.Dropped() {
					return nil
				}
				id++
				if err := send(message(id, "dropped", []byte(droppedData))); err != nil {
					return err
				}
				return ErrDropped
			}
			data, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("stream: encode change: %w", err)
			}
			id++
			if err := send(message(id, c.Kind, data)); err != nil {
				return err
			}
		}
	}
}

// message formats one SSE message. data must hold no newline (compact JSON
// never does); the event name has line breaks removed because one would end
// the field and let the rest be read as another field.
func message(id uint64, event string, data []byte) []byte {
	event = strings.NewReplacer("\r", "", "\n", "").Replace(event)
	buf := make([]byte, 0, len(data)+len(event)+32)
	buf = append(buf, "id: "...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, "\nevent: "...)
	buf = append(buf, event...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	return buf
}
