package signing_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/signing"
)

func BenchmarkSign(b *testing.B) {
	s, err := signing.NewSigner(signing.NewSecret())
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 300)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Sign("dlv_01J0000000000000000000000", now, body)
	}
}
