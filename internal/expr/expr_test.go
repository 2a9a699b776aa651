package expr

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCompileErrorsNamePosition(t *testing.T) {
	tests := []struct {
		src         string
		line, col   int
		msgContains string
	}{
		{src: ".a | ", line: 1, col: 6, msgContains: "end of program"},
		{src: ".payload.amount > )", line: 1, col: 19, msgContains: `")"`},
		{src: ".a and\n  .b ==", line: 2, col: 8, msgContains: "end of program"},
		{src: "nosuchfunc(1)", msgContains: "nosuchfunc"},
		{src: "   ", msgContains: "empty"},
		{src: "input", msgContains: "input"},
		{src: `import "x" as x; .`, msgContains: "module"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := Compile(tt.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) = %v, want a *SyntaxError", tt.src, err)
			}
			if se.Line != tt.line || se.Column != tt.col {
				t.Errorf("position = %d:%d, want %d:%d (%v)", se.Line, se.Column, tt.line, tt.col, err)
			}
			if !strings.Contains(err.Error(), tt.msgContains) {
				t.Errorf("error %q does not mention %q", err, tt.msgContains)
			}
		})
	}
}

func TestTruthy(t *testing.T) {
	input, err := Decode([]byte(`{"type":"charge.succeeded","amount":1500,"id":12345678901234567890,"tags":["a","b"],"headers":{"x-env":"prod"}}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src  string
		want bool
	}{
		{`.amount > 1000`, true},
		{`.amount > 2000`, false},
		{`.type | startswith("charge.")`, true},
		{`.headers["x-env"] == "prod"`, true},
		{`.missing`, false},
		{`.tags | index("b") != null`, true},
		{`empty`, false},
		{`.id == 12345678901234567890`, true}, // large ids compare exactly
		{`null`, false},
		{`0`, true}, // jq: only false and null are false
	}
	for _, tt := range tests {
		p, err := Compile(tt.src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.src, err)
		}
		got, err := p.Truthy(context.Background(), input)
		if err != nil {
			t.Fatalf("Truthy(%q): %v", tt.src, err)
		}
		if got != tt.want {
			t.Errorf("Truthy(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func TestFirstKeepsLargeIntegers(t *testing.T) {
	input, _ := Decode([]byte(`{"order":{"id":98765432109876543210}}`))
	v, err := MustCompile(`{key: .order.id, n: 1}`).First(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"key":98765432109876543210,"n":1}` {
		t.Errorf("Encode = %s", b)
	}
}

func TestRunErrors(t *testing.T) {
	input, _ := Decode([]byte(`{"a":"x"}`))
	tests := []struct {
		src  string
		want error
		text string
	}{
		{src: `def f: f; f`, want: ErrTimeout},
		{src: `[range(infinite)] | length`, want: ErrTimeout},
		{src: `.a + 1`, text: "cannot add"},
		{src: `error("bad order")`, text: "bad order"},
		{src: `"stop" | halt_error`, text: "stop"},
		{src: `$ENV | length`, text: ""}, // no environment: an empty object, no error
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p := MustCompile(tt.src).WithTimeout(50 * time.Millisecond)
			v, err := p.First(context.Background(), input)
			switch {
			case tt.want != nil:
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
			case tt.text != "":
				if err == nil || !strings.Contains(err.Error(), tt.text) {
					t.Fatalf("err = %v, want one containing %q", err, tt.text)
				}
			default:
				if err != nil || v != 0 {
					t.Fatalf("= %v, %v; want 0 (empty environment)", v, err)
				}
			}
		})
	}
}

func TestEncodeRefusesTooLarge(t *testing.T) {
	v, err := MustCompile(`[range(300000) | "0123456789abcdef0123456789"]`).WithTimeout(5*time.Second).First(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Encode(v); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Encode = %v, want ErrTooLarge", err)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{".", ".a.b", `.type == "x" and .payload.n > 3`, "[.[] | select(.)]", ".a |", "{a: 1", `"\(.x)"`, "def f: 1; f", "reduce .[] as $x (0; . + $x)"} {
		f.Add(s)
	}
	input, _ := Decode([]byte(`{"a":{"b":[1,2,{"c":"d"}]},"type":"x","payload":{"n":4}}`))
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile error %T is not a *SyntaxError", err)
			}
			if se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("offset %d outside the program (%d bytes)", se.Offset, len(src))
			}
			return
		}
		v, err := p.WithTimeout(20*time.Millisecond).First(context.Background(), input)
		if err == nil {
			_, _ = Encode(v)
		}
	})
}
