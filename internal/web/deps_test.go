package web

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package a leaf on the standard library.
func TestDependencies(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/hookd/hookd/internal/web").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") && dep != "github.com/hookd/hookd/internal/web" {
			t.Errorf("internal/web imports %s; it may import only the standard library", dep)
		}
	}
}
