package ordering_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/expr"
	"github.com/hookd/hookd/internal/ordering"
	"github.com/hookd/hookd/internal/webhook"
)

func TestKey(t *testing.T) {
	t.Parallel()
	ev := webhook.Event{
		Source: "shop", Type: "order.updated",
		Headers: map[string]string{"X-Shop-Id": "s-1"},
		Body:    []byte(`{"order_id":"o-17","n":12345678901234567890,"obj":{"b":1,"a":2},"none":null,"long":"` + strings.Repeat("x", 600) + `"}`),
	}
	for _, tc := range []struct {
		name, program, want string
		wantErr             error // nil: none; otherwise errors.Is must hold, or any error when errAny
		errAny              bool
	}{
		{name: "no program: one sequence", program: "", want: ""},
		{name: "string", program: ".payload.order_id", want: "o-17"},
		{name: "large integer keeps its digits", program: ".payload.n", want: "12345678901234567890"},
		{name: "object as JSON", program: ".payload.obj", want: `{"a":2,"b":1}`},
		{name: "header, lower case", program: `.headers["x-shop-id"]`, want: "s-1"},
		{name: "source and type", program: `.source + "/" + .type`, want: "shop/order.updated"},
		{name: "null falls back", program: ".payload.none", wantErr: ordering.ErrNoKey},
		{name: "missing falls back", program: ".payload.missing", wantErr: ordering.ErrNoKey},
		{name: "empty falls back", program: "empty", wantErr: ordering.ErrNoKey},
		{name: "run-time error falls back", program: `error("no")`, errAny: true},
		{name: "too long falls back", program: ".payload.long", errAny: true},
		{name: "time limit", program: "def f: f; f", wantErr: expr.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &webhook.Destination{Name: "orders", Ordering: &webhook.Ordering{Key: tc.program}}
			got, err := ordering.NewKeyer().Key(context.Background(), d, ordering.Input(ev))
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("Key = %q, %v; want error %v", got, err, tc.wantErr)
			case tc.errAny && err == nil:
				t.Fatalf("Key = %q, nil; want an error", got)
			case tc.wantErr == nil && !tc.errAny && err != nil:
				t.Fatalf("Key: %v", err)
			}
			if err != nil && got != "" {
				t.Fatalf("Key = %q with an error; want the fallback \"\"", got)
			}
			if err == nil && got != tc.want {
				t.Fatalf("Key = %q; want %q", got, tc.want)
			}
		})
	}
}

// TestInputParsedOnce checks that the input is built at most once per
// event, whatever the number of ordered destinations asking for it.
func TestInputParsedOnce(t *testing.T) {
	t.Parallel()
	in := ordering.Input(webhook.Event{Body: []byte(`{"k":1}`)})
	a, b := in(), in()
	a["marker"] = true
	if b["marker"] != true {
		t.Fatal("Input built the value twice")
	}
}

func TestCompileError(t *testing.T) {
	t.Parallel()
	_, err := ordering.Compile(".payload.\n  ]")
	var se *expr.SyntaxError
	if !errors.As(err, &se) || se.Line != 2 {
		t.Fatalf("Compile = %v; want a *expr.SyntaxError on line 2", err)
	}
}

func ExampleKeyer_Key() {
	keys := ordering.NewKeyer()
	d := &webhook.Destination{Name: "orders", Ordering: &webhook.Ordering{Key: ".payload.order.id"}}
	for _, body := range []string{`{"order":{"id":42}}`, `{"order":{"id":"A-7"}}`, `{"other":1}`} {
		key, err := keys.Key(context.Background(), d, ordering.Input(webhook.Event{Body: []byte(body)}))
		fmt.Printf("%q %v\n", key, err != nil)
	}
	// Output:
	// "42" false
	// "A-7" false
	// "" true
}
