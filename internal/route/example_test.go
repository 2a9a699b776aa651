package route_test

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/internal/route"
)

func ExampleFilter_Match() {
	f, err := route.CompileFilter(`.payload.amount > 1000 and .headers["x-env"] == "prod"`)
	if err != nil {
		panic(err)
	}
	body := []byte(`{"id": 12345678901234567890, "amount": 1500}`)
	ev := route.Event{Source: "stripe", Type: "charge.succeeded", Headers: map[string]string{"X-Env": "prod"}, Body: body}
	ok, err := f.Match(context.Background(), route.FilterInput(ev, route.ParsePayload(body)))
	fmt.Println(ok, err)
	// Output: true <nil>
}

func ExampleCompileFilter_error() {
	_, err := route.CompileFilter(".payload.amount >\n  )")
	fmt.Println(err)
	// Output: line 2, column 3: unexpected token ")"
}

func ExampleTransform_Apply() {
	t, err := route.CompileTransform(`{method: "PUT", payload: {text: "\(.type): \(.payload.amount)", id: .payload.id}}`)
	if err != nil {
		panic(err)
	}
	out, err := t.Apply(context.Background(), route.TransformInput{
		Request: route.Request{Method: "POST", URL: "https://example.com/hook", Body: []byte(`{"id": 98765432109876543210, "amount": 1500}`)},
		Type:    "charge.succeeded",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(out.Method, out.URL, out.Headers["Content-Type"])
	fmt.Println(string(out.Body))
	// Output:
	// PUT https://example.com/hook application/json
	// {"id":98765432109876543210,"text":"charge.succeeded: 1500"}
}
