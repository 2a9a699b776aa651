package main

// The help of every command is kept in testdata/help/*.golden, so that a
// change to it shows in review; `go test ./cmd/hookd -run TestHelp -update`
// rewrites the files. A second test holds the commands to one style.

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestHelpGolden")

// commandPaths returns the argument lists naming every visible command,
// the root first, as a user would type them.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	root := newRoot()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var paths [][]string
	var walk func(cmd *cobra.Command, path []string)
	walk = func(cmd *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range cmd.Commands() {
			if sub.Hidden || !sub.IsAvailableCommand() && sub.Name() != "help" {
				continue
			}
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(root, nil)
	return paths
}

// helpOf runs `hookd PATH... --help` in-process and returns what it prints.
func helpOf(t *testing.T, path []string) string {
	t.Helper()
	var out bytes.Buffer
	root := newRoot()
	root.SetArgs(append(append([]string(nil), path...), "--help"))
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.Execute(); err != nil {
		t.Fatalf("hookd %s --help: %v", strings.Join(path, " "), err)
	}
	return out.String()
}

func goldenName(path []string) string {
	return strings.Join(append([]string{"hookd"}, path...), "_") + ".golden"
}

func TestHelpGolden(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "help")
	paths := commandPaths(t)
	want := map[string]bool{}
	for _, path := range paths {
		name := goldenName(path)
		want[name] = true
		got := helpOf(t, path)
		file := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		golden, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("hookd %s --help: %v (run go test ./cmd/hookd -run TestHelpGolden -update)", strings.Join(path, " "), err)
			continue
		}
		if got != string(golden) {
			t.Errorf("hookd %s --help differs from %s (run with -update if the change is meant):\n%s",
				strings.Join(path, " "), file, lineDiff(string(golden), got))
		}
	}
	// A golden file whose command is gone is stale.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			if *update {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
					t.Fatal(err)
				}
				continue
			}
			t.Errorf("%s has no command any more; run with -update to remove it", e.Name())
		}
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(same lines)"
}

// TestHelpIsStable renders the help twice and in an environment that
// differs (variables that commands read, a wide terminal): the output
// must not depend on them, or the golden files would flap.
func TestHelpIsStable(t *testing.T) {
	for _, path := range [][]string{nil, {"serve"}, {"status"}, {"events", "ls"}, {"listen"}} {
		first := helpOf(t, path)
		t.Setenv("COLUMNS", "300")
		t.Setenv("HOOKD_SERVER", "http://elsewhere:1")
		t.Setenv("PORT", "1234")
		if second := helpOf(t, path); second != first {
			t.Errorf("hookd %s --help changed with the environment:\n%s", strings.Join(path, " "), lineDiff(first, second))
		}
	}
}

var (
	// shortStyle: a capital first, no full stop at the end.
	shortStyle = regexp.MustCompile(`^[A-Z].*[^.]$`)
	// examplesStyle: every line of Example starts with two spaces.
	examplesStyle = regexp.MustCompile(`^(  \S.*\n?)+$`)
)

// TestHelpStyle holds every command to one style: a Short sentence with a
// capital and no full stop; a Long text that starts with the command's own
// name (as the existing commands do) for every command but help; examples
// for every command that does something; flag usages in lower case without
// a full stop.
func TestHelpStyle(t *testing.T) {
	t.Parallel()
	root := newRoot()
	root.InitDefaultHelpCmd()
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		name := cmd.CommandPath()
		if !shortStyle.MatchString(cmd.Short) {
			t.Errorf("%s: Short %q: want a capital first and no full stop", name, cmd.Short)
		}
		if cmd.Name() != "help" {
			if cmd.Long == "" {
				t.Errorf("%s: no Long text", name)
			} else if first := strings.Fields(cmd.Long)[0]; first != cmd.Name() {
				t.Errorf("%s: Long starts with %q; want the command's name, %q", name, first, cmd.Name())
			}
			if cmd.Example == "" {
				t.Errorf("%s: no Example", name)
			} else if !examplesStyle.MatchString(cmd.Example) {
				t.Errorf("%s: Example lines must start with two spaces:\n%s", name, cmd.Example)
			}
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if r := []rune(f.Usage); len(r) == 0 || unicode.IsUpper(r[0]) && !isAcronym(f.Usage) || strings.HasSuffix(f.Usage, ".") {
				t.Errorf("%s --%s: usage %q: want lower case first, no full stop", name, f.Name, f.Usage)
			}
		})
		for _, sub := range cmd.Commands() {
			if !sub.Hidden {
				walk(sub)
			}
		}
	}
	walk(root)
}

// isAcronym reports whether a usage starts with a word in capitals (URL,
// YAML, HTTP), which is not a sentence's capital.
func isAcronym(usage string) bool {
	word, _, _ := strings.Cut(usage, " ")
	return len(word) > 1 && strings.ToUpper(word) == word
}
