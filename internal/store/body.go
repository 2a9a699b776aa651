package store

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"fmt"
	"io"
	"sync"
)

// Event bodies over a configured size are stored gzip-compressed, marked
// by their original size in a nullable column (NULL: stored as received).
// Drivers compress with CompressBody before a write reaches the database
// and expand with ExpandBody where a body is read, so webhook.Event.Body
// is always the bytes as received and no caller knows about storage.
//
// Compression trades CPU at ingest for disk: JSON webhooks shrink 4–10×.
// The body search of EventList (Query) compares stored bytes, so it does
// not see into compressed bodies; the MongoDB driver, which searches in
// Go, expands them first.

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// CompressBody returns what to store for body: the body itself and an
// invalid size when over is 0 or the body is not longer than over, else
// its gzip form and its original size. A body that would not shrink is
// kept as received.
func CompressBody(body []byte, over int) ([]byte, sql.NullInt64) {
	if over <= 0 || len(body) <= over {
		return body, sql.NullInt64{}
	}
	var buf bytes.Buffer
	buf.Grow(len(body) / 3)
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(body); err != nil {
		return body, sql.NullInt64{}
	}
	if err := w.Close(); err != nil || buf.Len() >= len(body) {
		return body, sql.NullInt64{}
	}
	return buf.Bytes(), sql.NullInt64{Int64: int64(len(body)), Valid: true}
}

// ExpandBody returns the body as received from what was stored: stored
// itself when size is not valid, else stored gunzipped, which must be
// exactly size bytes.
func ExpandBody(stored []byte, size sql.NullInt64) ([]byte, error) {
	if !size.Valid {
		return stored, nil
	}
	r, err := gzip.NewReader(bytes.NewReader(stored))
	if err != nil {
		return nil, fmt.Errorf("compressed body: %w", err)
	}
	out := make([]byte, 0, size.Int64)
	buf := bytes.NewBuffer(out)
	// Read one byte past the size to notice a body longer than recorded.
	if _, err := io.Copy(buf, io.LimitReader(r, size.Int64+1)); err != nil {
		return nil, fmt.Errorf("compressed body: %w", err)
	}
	if int64(buf.Len()) != size.Int64 {
		return nil, fmt.Errorf("compressed body: %d bytes, recorded as %d", buf.Len(), size.Int64)
	}
	return buf.Bytes(), nil
}
