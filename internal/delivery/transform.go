package delivery

import (
	"context"
	"net/http"
	"strings"

	"github.com/hookd/hookd/internal/route"
	"github.com/hookd/hookd/internal/webhook"
)

// transforms is the part of a catalog that keeps destinations' compiled
// transforms (catalog.Catalog is one). A catalog without it still works:
// each attempt then compiles the transform it needs.
type transforms interface {
	Transform(name string) *route.Transform
}

// outbound is the request an attempt sends before hookd's own headers:
// the event's body to the destination's URL with its extra headers, or
// what the destination's transform made of them. The second result is
// the Content-Type. A transform that fails returns a *route.Error
// (wrapping webhook.ErrTransform), which attempt records as a permanent
// failure: the same event would fail the same way at every retry.
func (e *Engine) outbound(ctx context.Context, dest webhook.Destination, job webhook.Job) (route.Request, string, error) {
	ct := job.Event.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	req := route.Request{Method: http.MethodPost, URL: dest.URL, Headers: dest.Headers, Body: job.Event.Body}
	if dest.Transform == "" {
		return req, ct, nil
	}
	var prog *route.Transform
	if c, ok := e.opts.Catalog.(transforms); ok {
		prog = c.Transform(dest.Name)
	}
	if prog == nil || prog.Source() != dest.Transform {
		var err error
		if prog, err = route.CompileTransform(dest.Transform); err != nil {
			return route.Request{}, "", &route.Error{Msg: err.Error()}
		}
	}
	headers := make(map[string]string, len(dest.Headers)+1)
	for k, v := range dest.Headers {
		headers[k] = v
	}
	headers["Content-Type"] = ct
	req.Headers = headers
	out, err := prog.Apply(ctx, route.TransformInput{Request: req, Type: job.Event.Type, Source: job.Event.Source, EventID: job.Event.ID})
	if err != nil {
		return route.Request{}, "", err
	}
	if (dest.CACert != "" || dest.ClientCert != "") && !strings.HasPrefix(strings.ToLower(out.URL), "https://") {
		// The destination's TLS settings say its receiver is reached over
		// TLS only; a transform may not send the event in the clear.
		return route.Request{}, "", &route.Error{Msg: "url must be https:// for a destination with ca_cert or client_cert"}
	}
	// Content-Type is set by send from the second result, once; the
	// transform's headers hold it in whatever case it chose.
	ct = "application/octet-stream"
	plain := make(map[string]string, len(out.Headers))
	for k, v := range out.Headers {
		if http.CanonicalHeaderKey(k) == "Content-Type" {
			ct = v
			continue
		}
		plain[k] = v
	}
	out.Headers = plain
	return out, ct, nil
}
