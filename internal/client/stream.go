package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/stream"
)

// ErrDropped is returned by Stream.Next when the server ended the stream
// because this client fell behind ("event: dropped"). Reconnect, and
// reload from the list, to resume.
var ErrDropped = errors.New("live stream: the server dropped this client for falling behind")

// ErrIdle is returned by Stream.Next when nothing, not even a heartbeat,
// arrived for StreamParams.Idle: the connection is presumed dead.
var ErrIdle = errors.New("live stream: nothing received, not even a heartbeat; the connection is presumed dead")

// maxSSELine bounds one line of the stream. A change is a small JSON
// object; a line beyond this is not hookd talking.
const maxSSELine = 1 << 20

// StreamParams filter GET /api/stream. Empty lists match everything.
type StreamParams struct {
	// Sources matches the change's source.
	Sources []string
	// Statuses matches the event's status after the change.
	Statuses []string
	// Idle, when positive, ends the stream with ErrIdle if nothing arrives
	// for that long. The server sends a heartbeat every 15 seconds, so
	// three times that tells a dead connection from a quiet one.
	Idle time.Duration
}

// Stream is an open live stream of status changes. Next is not safe for
// concurrent use; Close may be called from any goroutine.
type Stream struct {
	body   io.ReadCloser
	sse    *sseReader
	cancel context.CancelFunc
	idle   time.Duration
	timer  *time.Timer
	date   time.Time

	mu     sync.Mutex
	idled  bool
	closed bool
}

// Stream opens GET /api/stream with the client's credentials in the
// Authorization header. It returns once the server has answered: an
// *Error for a refusal (401, 400 …), else a Stream whose Next yields the
// changes as they happen. Only the changes made by the process that serves
// the stream are sent (see docs/api.md).
func (c *Client) Stream(ctx context.Context, p StreamParams) (*Stream, error) {
	q := url.Values{}
	if len(p.Sources) > 0 {
		q.Set("source", strings.Join(p.Sources, ","))
	}
	if len(p.Statuses) > 0 {
		q.Set("status", strings.Join(p.Statuses, ","))
	}
	ctx, cancel := context.WithCancel(ctx)
	req, err := c.newRequest(ctx, "GET", "/api/stream", q, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	s := &Stream{cancel: cancel, idle: p.Idle}
	if s.idle > 0 {
		// The connection and the first answer are bounded too: a server
		// that accepts and says nothing is as dead as one that stops.
		s.timer = time.AfterFunc(s.idle, s.expire)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		s.stop()
		if s.wasIdle() {
			return nil, fmt.Errorf("GET /api/stream: %w", ErrIdle)
		}
		return nil, err // a *url.Error, which names the method and URL
	}
	if resp.StatusCode != 200 {
		defer resp.Body.Close()
		s.stop()
		return nil, answerError("GET", "/api/stream", resp)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		s.stop()
		return nil, fmt.Errorf("GET /api/stream: answered %q, not an event stream", ct)
	}
	s.body = resp.Body
	s.sse = newSSEReader(resp.Body)
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		s.date = d
	}
	return s, nil
}

// ServerTime is the server's clock when it answered (its Date header, to
// the second), zero if it sent none. Comparing times the server recorded
// against it, rather than against this machine's clock, is immune to
// clock skew between the two.
func (s *Stream) ServerTime() time.Time { return s.date }

// expire ends an idle stream: it cancels the request, which makes the
// blocked read return.
func (s *Stream) expire() {
	s.mu.Lock()
	s.idled = true
	s.mu.Unlock()
	s.cancel()
}

func (s *Stream) wasIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idled
}

// stop releases the timer and the request.
func (s *Stream) stop() {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.cancel()
}

// Next returns the next change. It returns io.EOF when the server ended the
// stream, ErrDropped when it dropped this client, ErrIdle when the
// connection went silent, and the read error otherwise (the context's
// error after Close or cancellation). Messages of kinds this client does
// not know are passed on with their Kind set; heartbeats are not.
func (s *Stream) Next() (stream.Change, error) {
	for {
		msg, err := s.sse.next(s.touch)
		if err != nil {
			if s.wasIdle() {
				return stream.Change{}, ErrIdle
			}
			return stream.Change{}, err
		}
		if msg.event == "dropped" {
			return stream.Change{}, ErrDropped
		}
		if msg.data == "" {
			continue // a message with no data is not dispatched (SSE)
		}
		var c stream.Change
		if err := json.Unmarshal([]byte(msg.data), &c); err != nil {
			return stream.Change{}, fmt.Errorf("live stream: message %q: %w", msg.id, err)
		}
		if c.Kind == "" {
			c.Kind = msg.event
		}
		return c, nil
	}
}

// touch restarts the idle timer: a line arrived.
func (s *Stream) touch() {
	if s.timer != nil {
		s.timer.Reset(s.idle)
	}
}

// Close ends the stream. It is idempotent.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	return s.body.Close()
}

// sseMessage is one dispatched Server-Sent Events message.
type sseMessage struct {
	id    string
	event string // "message" when the stream named none
	data  string
}

// sseReader parses a text/event-stream as the HTML standard says: lines end
// in LF, CRLF or CR; a blank line dispatches the message; ":" starts a
// comment; one space after the field's colon is dropped; data lines join
// with LF. The retry field is ignored: reconnecting is the caller's policy.
type sseReader struct {
	sc *bufio.Scanner
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELine)
	sc.Split(scanSSELines)
	return &sseReader{sc: sc}
}

// next returns the next message, calling touch for every line read
// (comments and heartbeats included). At the end of the input it returns
// io.EOF; a message not ended by a blank line is discarded, as the
// standard says.
func (r *sseReader) next(touch func()) (sseMessage, error) {
	var (
		msg     sseMessage
		data    strings.Builder
		hasData bool
	)
	for r.sc.Scan() {
		if touch != nil {
			touch()
		}
		line := r.sc.Text()
		if line == "" {
			if !hasData {
				msg = sseMessage{} // nothing to dispatch; the id is kept by the standard, unused here
				continue
			}
			msg.data = data.String()
			if msg.event == "" {
				msg.event = "message"
			}
			return msg, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			msg.event = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				msg.id = value
			}
		}
	}
	if err := r.sc.Err(); err != nil {
		return sseMessage{}, fmt.Errorf("live stream: read: %w", err)
	}
	return sseMessage{}, io.EOF
}

// scanSSELines is bufio.ScanLines for the three line endings of SSE. A CR
// at the end of the buffer waits for the next byte (it may be a CRLF),
// unless the input has ended.
func scanSSELines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // a lone CR at the end: wait for what follows
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
