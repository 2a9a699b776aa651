package report

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package a leaf: of hookd's own packages it
// may import only the webhook domain types.
func TestDependencies(t *testing.T) {
	t.Parallel()
	const module = "github.com/hookd/hookd/"
	out, err := exec.Command("go", "list", "-deps", module+"internal/report").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, module) && dep != module+"internal/webhook" && dep != module+"internal/report" {
			t.Errorf("internal/report imports %s; it may import only internal/webhook", dep)
		}
	}
}
