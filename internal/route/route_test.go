package route

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/expr"
	"github.com/hookd/hookd/internal/webhook"
)

func TestFilterMatch(t *testing.T) {
	t.Parallel()
	ev := Event{
		Source: "stripe", Type: "charge.succeeded",
		Headers: map[string]string{"X-Env": "prod", "Content-Type": "application/json"},
		Body:    []byte(`{"id":12345678901234567890,"data":{"amount":1500,"currency":"eur"},"tags":["vip"]}`),
	}
	tests := []struct {
		name, src string
		body      []byte // replaces ev.Body when set
		want      bool
		reason    string
	}{
		{name: "payload field", src: `.payload.data.amount > 1000`, want: true},
		{name: "payload field false", src: `.payload.data.amount > 2000`, reason: ReasonFilterFalse},
		{name: "type", src: `.type | startswith("charge.")`, want: true},
		{name: "source", src: `.source == "stripe"`, want: true},
		{name: "header lower-case", src: `.headers["x-env"] == "prod"`, want: true},
		{name: "header original case is absent", src: `.headers["X-Env"] != null`, reason: ReasonFilterFalse},
		{name: "large id exact", src: `.payload.id == 12345678901234567890`, want: true},
		{name: "array", src: `.payload.tags | index("vip") != null`, want: true},
		{name: "empty is false", src: `empty`, reason: ReasonFilterFalse},
		{name: "zero is true", src: `0`, want: true},
		{name: "not JSON: payload null", src: `.payload == null`, body: []byte("a=1&b=2"), want: true},
		{name: "run-time error", src: `.payload.data.currency + 1`, reason: ReasonFilterError},
		{name: "error()", src: `error("nope")`, reason: ReasonFilterError},
		{name: "timeout", src: `def f: f; f`, reason: ReasonFilterTimeout},
		{name: "no environment", src: `$ENV | length == 0`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := CompileFilter(tt.src)
			if err != nil {
				t.Fatalf("CompileFilter(%q): %v", tt.src, err)
			}
			e := ev
			if tt.body != nil {
				e.Body = tt.body
			}
			got, err := f.Match(context.Background(), FilterInput(e, ParsePayload(e.Body)))
			if got != tt.want {
				t.Errorf("Match = %v (%v), want %v", got, err, tt.want)
			}
			if r := FilterReason(got, err); r != tt.reason {
				t.Errorf("reason = %q (%v), want %q", r, err, tt.reason)
			}
		})
	}
}

func TestCompileFilterNamesPosition(t *testing.T) {
	t.Parallel()
	_, err := CompileFilter(".payload.amount >\n  )")
	var se *expr.SyntaxError
	if !errors.As(err, &se) || se.Line != 2 || se.Column != 3 {
		t.Fatalf("err = %v, want a syntax error at 2:3", err)
	}
	if !strings.Contains(err.Error(), "line 2, column 3") {
		t.Errorf("text %q does not name the position", err)
	}
}

func TestFilterBudgetStopsSlowFilters(t *testing.T) {
	t.Parallel()
	f, err := CompileFilter(`def f: f; f`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	_, err = f.Match(ctx, FilterInput(Event{}, nil))
	if FilterReason(false, err) != ReasonFilterTimeout {
		t.Fatalf("err = %v, want a timeout once the event's budget is spent", err)
	}
}

func baseInput() TransformInput {
	return TransformInput{
		Request: Request{
			Method: "POST", URL: "https://example.com/hook",
			Headers: map[string]string{"X-Team": "core", "Content-Type": "application/json"},
			Body:    []byte(`{"id":98765432109876543210,"amount":1500,"kind":"charge"}`),
		},
		Type: "charge.succeeded", Source: "stripe", EventID: "evt_1",
	}
}

func TestTransformApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		src    string
		body   string // replaces the input body when set
		want   Request
		errHas string
	}{
		{
			name: "identity keeps everything but key order", src: `.`,
			want: Request{Method: "POST", URL: "https://example.com/hook",
				Headers: map[string]string{"x-team": "core", "content-type": "application/json"},
				Body:    []byte(`{"amount":1500,"id":98765432109876543210,"kind":"charge"}`)},
		},
		{
			name: "new payload object", src: `{payload: {text: "\(.type) for \(.payload.amount)", id: .payload.id}}`,
			want: Request{Method: "POST", URL: "https://example.com/hook",
				Headers: map[string]string{"X-Team": "core", "Content-Type": "application/json"},
				Body:    []byte(`{"id":98765432109876543210,"text":"charge.succeeded for 1500"}`)},
		},
		{
			name: "string payload sent as is with its headers", src: `{payload: "amount=\(.payload.amount)", headers: {"content-type": "application/x-www-form-urlencoded"}}`,
			want: Request{Method: "POST", URL: "https://example.com/hook",
				Headers: map[string]string{"content-type": "application/x-www-form-urlencoded"},
				Body:    []byte(`amount=1500`)},
		},
		{
			name: "object payload after headers without content type", src: `{payload: [1], headers: {"x-a": "b"}}`,
			want: Request{Method: "POST", URL: "https://example.com/hook",
				Headers: map[string]string{"x-a": "b", "Content-Type": "application/json"},
				Body:    []byte(`[1]`)},
		},
		{
			name: "method and url", src: `.method = "put" | .url = "https://other.example.com/x?id=\(.event_id)"`,
			want: Request{Method: "PUT", URL: "https://other.example.com/x?id=evt_1",
				Headers: map[string]string{"x-team": "core", "content-type": "application/json"},
				Body:    []byte(`{"amount":1500,"id":98765432109876543210,"kind":"charge"}`)},
		},
		{
			name: "non-JSON body is a string", src: `{payload: (.payload | ascii_upcase)}`, body: "hello",
			want: Request{Method: "POST", URL: "https://example.com/hook",
				Headers: map[string]string{"X-Team": "core", "Content-Type": "application/json"},
				Body:    []byte(`HELLO`)},
		},
		{name: "not an object", src: `.payload.amount`, errHas: "must be an object"},
		{name: "bad method", src: `{method: "DELETE"}`, errHas: "POST, PUT or PATCH"},
		{name: "bad url", src: `{url: "ftp://x"}`, errHas: "http:// or https://"},
		{name: "url not a string", src: `{url: 1}`, errHas: "url must be a string"},
		{name: "signature header", src: `{headers: {"webhook-signature": "v1,x"}}`, errHas: "set by hookd"},
		{name: "content-length header", src: `{headers: {"Content-Length": "1"}}`, errHas: "set by hookd"},
		{name: "header value not a string", src: `{headers: {"x-n": 1}}`, errHas: "must be a string"},
		{name: "header with newline", src: `{headers: {"x-n": "a\nb"}}`, errHas: "line breaks"},
		{name: "bad header name", src: `{headers: {"a b": "x"}}`, errHas: "not a valid header name"},
		{name: "error() text as is", src: `error("no such customer")`, errHas: "transform: no such customer"},
		{name: "run-time error", src: `.payload.kind + 1`, errHas: "cannot add"},
		{name: "timeout", src: `def f: f; f`, errHas: "time limit"},
		{name: "empty", src: `empty`, errHas: "no value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, err := CompileTransform(tt.src)
			if err != nil {
				t.Fatalf("CompileTransform(%q): %v", tt.src, err)
			}
			in := baseInput()
			if tt.body != "" {
				in.Body = []byte(tt.body)
			}
			got, err := tr.Apply(context.Background(), in)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errHas)
				}
				if !strings.HasPrefix(err.Error(), "transform: ") || !errors.Is(err, webhook.ErrTransform) {
					t.Errorf("err %q must start with \"transform: \" and wrap webhook.ErrTransform", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != tt.want.Method || got.URL != tt.want.URL || string(got.Body) != string(tt.want.Body) {
				t.Errorf("got %s %s %s, want %s %s %s", got.Method, got.URL, got.Body, tt.want.Method, tt.want.URL, tt.want.Body)
			}
			if len(got.Headers) != len(tt.want.Headers) {
				t.Errorf("headers = %v, want %v", got.Headers, tt.want.Headers)
			}
			for k, v := range tt.want.Headers {
				if got.Headers[k] != v {
					t.Errorf("headers = %v, want %v", got.Headers, tt.want.Headers)
					break
				}
			}
		})
	}
}

func TestTransformPayloadUpdateKeepsLargeIDs(t *testing.T) {
	t.Parallel()
	tr, err := CompileTransform(`.payload |= {id, cents: .amount}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Apply(context.Background(), baseInput())
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Body) != `{"cents":1500,"id":98765432109876543210}` {
		t.Errorf("body = %s", got.Body)
	}
}

func FuzzFilterInput(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2]`, `"x"`, `not json`, ``, `{"a":1}{"b":2}`, `{"n":1e400}`, "\xff"} {
		f.Add([]byte(s), "X-Env", "prod")
	}
	filter, err := CompileFilter(`(.payload | type) as $t | .headers | length >= 0 and ($t | length > 0)`)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, name, value string) {
		ev := Event{Source: "s", Type: "t", Headers: map[string]string{name: value}, Body: body}
		ok, err := filter.Match(context.Background(), FilterInput(ev, ParsePayload(body)))
		if err != nil && FilterReason(ok, err) == ReasonReceives {
			t.Fatalf("an error must never classify as receiving: %v", err)
		}
	})
}

func FuzzTransformApply(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2]`, `"x"`, `not json`, ``, "\xff\x00"} {
		f.Add([]byte(s), `.payload |= {b: .a}`)
		f.Add([]byte(s), `{payload: .payload, headers: {"x": "y"}, method: "PUT"}`)
	}
	f.Fuzz(func(t *testing.T, body []byte, src string) {
		tr, err := CompileTransform(src)
		if err != nil {
			return
		}
		tr.prog = tr.prog.WithTimeout(20 * time.Millisecond)
		in := baseInput()
		in.Body = body
		got, err := tr.Apply(context.Background(), in)
		if err != nil {
			if !errors.Is(err, webhook.ErrTransform) || !strings.HasPrefix(err.Error(), "transform: ") {
				t.Fatalf("error %v is not a transform error", err)
			}
			return
		}
		if !transformMethods[got.Method] || CheckURL(got.URL) != nil {
			t.Fatalf("bad request out: %s %s", got.Method, got.URL)
		}
		for k := range got.Headers {
			if reservedHeaders[strings.ToLower(k)] {
				t.Fatalf("reserved header %q came out", k)
			}
		}
	})
}

// BenchmarkFilterEvent is what one event costs the first filtered
// destination at ingest: parse the body, build the input, run the filter.
func BenchmarkFilterEvent(b *testing.B) {
	f, err := CompileFilter(`.payload.total > 100 and .headers["content-type"] == "application/json"`)
	if err != nil {
		b.Fatal(err)
	}
	ev := Event{Source: "shop", Type: "orders.create", Headers: map[string]string{"Content-Type": "application/json", "X-Shop": "a"},
		Body: []byte(`{"type":"orders.create","id":12345678901234567890,"total":250,"lines":[{"sku":"a","n":1},{"sku":"b","n":2}],"pad":"` + strings.Repeat("x", 200) + `"}`)}
	ctx := context.Background()
	b.ReportAllocs()
	timeouts := 0
	for range b.N {
		ok, err := f.Match(ctx, FilterInput(ev, ParsePayload(ev.Body)))
		switch {
		case errors.Is(err, expr.ErrTimeout):
			timeouts++ // the host stalled the run past its wall-clock limit
		case !ok || err != nil:
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64(timeouts), "timeouts")
}

// BenchmarkTransform is one transform applied before an attempt.
func BenchmarkTransform(b *testing.B) {
	tr, err := CompileTransform(`{method: "PUT", headers: (.headers + {"x-type": .type}), payload: {id: .payload.id, cents: .payload.amount}}`)
	if err != nil {
		b.Fatal(err)
	}
	in := baseInput()
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		if _, err := tr.Apply(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
