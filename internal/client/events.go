package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"time"

	"github.com/hookd/hookd/internal/api"
)

// ListParams filter and page GET /api/webhooks. Zero fields do not filter;
// see docs/api.md for what each matches.
type ListParams struct {
	Status      string
	Source      string
	Destination string
	Type        string
	// Query matches an event id, idempotency key or type exactly, or any
	// part of the raw body (the API's q=).
	Query string
	// From and To bound the received time: from inclusive, to exclusive.
	From, To time.Time
	// Limit is the page size, 1 to api.MaxLimit; zero means the server's
	// default (api.DefaultLimit).
	Limit int
	// Page is the offset page, from 1; zero means the first.
	Page int
	// Cursor is a page's NextCursor: the events older than it.
	Cursor string
}

func (p ListParams) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("status", p.Status)
	set("source", p.Source)
	set("destination", p.Destination)
	set("type", p.Type)
	set("q", p.Query)
	if !p.From.IsZero() {
		q.Set("from", p.From.UTC().Format(time.RFC3339Nano))
	}
	if !p.To.IsZero() {
		q.Set("to", p.To.UTC().Format(time.RFC3339Nano))
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Page > 0 {
		q.Set("page", strconv.Itoa(p.Page))
	}
	set("cursor", p.Cursor)
	return q
}

// Events lists one page of events, newest first (GET /api/webhooks).
func (c *Client) Events(ctx context.Context, p ListParams) (api.EventPage, error) {
	var out api.EventPage
	err := c.call(ctx, "GET", "/api/webhooks", p.query(), nil, &out)
	return out, err
}

// EventPages walks every page matching p, newest first, by keyset
// (starting at p.Cursor if set; p.Page is ignored). Events that arrive
// meanwhile never shift what comes next. The walk stops at the first error,
// which it yields.
func (c *Client) EventPages(ctx context.Context, p ListParams) iter.Seq2[api.EventPage, error] {
	return func(yield func(api.EventPage, error) bool) {
		p.Page = 0
		for {
			page, err := c.Events(ctx, p)
			if err != nil {
				yield(page, err)
				return
			}
			if !yield(page, nil) || page.NextCursor == "" {
				return
			}
			p.Cursor = page.NextCursor
		}
	}
}

// eventPath is the path of one event, its id escaped.
func eventPath(id string, action string) string {
	p := "/api/webhooks/" + url.PathEscape(id)
	if action != "" {
		p += "/" + action
	}
	return p
}

// Event returns one event with its payload, headers, deliveries and
// attempts (GET /api/webhooks/{id}).
func (c *Client) Event(ctx context.Context, id string) (api.EventDetail, error) {
	var out api.EventDetail
	err := c.call(ctx, "GET", eventPath(id, ""), nil, nil, &out)
	return out, err
}

// Retry re-queues an event's failed and dead deliveries, keeping their ids
// (POST /api/webhooks/{id}/retry). Admins only.
func (c *Client) Retry(ctx context.Context, id string) (api.RetryResponse, error) {
	var out api.RetryResponse
	err := c.call(ctx, "POST", eventPath(id, "retry"), nil, nil, &out)
	return out, err
}

// Replay sends an event again as new deliveries, with new ids (POST
// /api/webhooks/{id}/replay). Admins only.
func (c *Client) Replay(ctx context.Context, id string) (api.ReplayResponse, error) {
	var out api.ReplayResponse
	err := c.call(ctx, "POST", eventPath(id, "replay"), nil, nil, &out)
	return out, err
}

// BulkRetry re-queues every dead delivery matching req, or with DryRun
// only counts them (POST /api/webhooks/retry). Admins only.
func (c *Client) BulkRetry(ctx context.Context, req api.BulkRetryRequest) (api.BulkRetryResponse, error) {
	var out api.BulkRetryResponse
	err := c.call(ctx, "POST", "/api/webhooks/retry", nil, req, &out)
	return out, err
}

// Payload returns the raw body bytes of an event as received, undoing the
// API's encoding (text, or base64 for bytes that are not UTF-8).
func Payload(e api.EventDetail) ([]byte, error) {
	return decodeBytes(e.Payload, e.PayloadEncoding)
}

// Response returns the first bytes of the receiver's answer to an attempt,
// undoing the API's encoding.
func Response(a api.AttemptView) ([]byte, error) {
	return decodeBytes(a.Response, a.ResponseEncoding)
}

func decodeBytes(s, encoding string) ([]byte, error) {
	switch encoding {
	case "text", "":
		return []byte(s), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("decode base64 payload: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown payload encoding %q", encoding)
}
