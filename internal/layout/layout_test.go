package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hookd/hookd"

type pkg struct {
	ImportPath string
	Doc        string
	Deps       []string
	Standard   bool
	Name       string
}

// list runs `go list -json -deps=false` over the module's packages.
func list(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

func internal(name string) string { return module + "/internal/" + name }

func TestDependencies(t *testing.T) {
	t.Parallel()
	pkgs := list(t)
	concrete := []string{internal("app"), internal("store/sqlite"), internal("store/postgres"), internal("store/mongo"), internal("queue/embedded"), internal("queue/redis")}
	rules := []struct {
		pkg       string
		forbidden []string
		stdlib    bool
	}{
		{pkg: internal("webhook"), stdlib: true},
		{pkg: internal("ids"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("signing"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("egress"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("httpx"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("batch"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("receiver"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("store"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("queue"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("ingest"), forbidden: append(concrete, internal("delivery"), internal("api"))},
		{pkg: internal("delivery"), forbidden: append(concrete, internal("ingest"), internal("api"))},
		{pkg: internal("config"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("auth"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"), internal("store"))},
		{pkg: internal("stream"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"), internal("store"))},
		{pkg: internal("report"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"), internal("store"))},
		{pkg: internal("stats"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"))},
		{pkg: internal("catalog"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"))},
		{pkg: internal("api"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
		{pkg: internal("verify"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"), internal("store"))},
		{pkg: internal("limit"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"), internal("store"))},
		{pkg: internal("web"), stdlib: true},
		{pkg: internal("clientip"), stdlib: true},
		// Observability reads what features report through small
		// interfaces of its own; features never import it.
		{pkg: internal("metrics"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"))},
		{pkg: internal("tracing"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"), internal("store"))},
		{pkg: internal("retention"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"))},
		// The expression engine is a leaf every feature may use.
		// Routing is a leaf on top of expr: features use it, it uses none.
		{pkg: internal("route"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"), internal("store"), internal("catalog"))},
		{pkg: internal("expr"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"), internal("store"), internal("catalog"))},
		// Ordering keys are a leaf on top of route: ingest, the catalog
		// and the API use it; the order itself lives in the stores.
		{pkg: internal("ordering"), forbidden: append(concrete, internal("ingest"), internal("delivery"), internal("api"), internal("store"), internal("catalog"))},
		// The client speaks to a running hookd over HTTP only (it shares
		// the API's types, not its stores).
		{pkg: internal("client"), forbidden: append(concrete, internal("ingest"), internal("delivery"))},
	}
	for _, r := range rules {
		p, ok := pkgs[r.pkg]
		if !ok {
			t.Errorf("package %s not found", r.pkg)
			continue
		}
		for _, dep := range p.Deps {
			if r.stdlib && strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") {
				t.Errorf("%s must import only the standard library, but depends on %s", r.pkg, dep)
			}
			for _, f := range r.forbidden {
				if dep == f {
					t.Errorf("%s must not depend on %s", r.pkg, f)
				}
			}
		}
	}
	// Features report to observability through interfaces they declare;
	// only the composition root wires metrics and tracing to them.
	for _, feature := range []string{internal("ingest"), internal("delivery"), internal("api")} {
		for _, dep := range pkgs[feature].Deps {
			if dep == internal("metrics") || dep == internal("tracing") {
				t.Errorf("%s must not depend on %s", feature, dep)
			}
		}
	}
	// Only commands import the composition root.
	for path, p := range pkgs {
		allowed := path == module+"/cmd/hookd" || path == internal("simulate") || path == internal("bench") || path == internal("app")
		for _, dep := range p.Deps {
			if dep == internal("app") && !allowed {
				t.Errorf("%s imports internal/app; only commands may", path)
			}
		}
	}
}

func TestEveryPackageIsDocumented(t *testing.T) {
	t.Parallel()
	for path, p := range list(t) {
		if p.Doc == "" {
			t.Errorf("package %s has no package doc comment", path)
		}
	}
}
