package main

// These tests drive `hookd user` and `hookd apikey` in-process, through the
// same cobra tree the binary runs, against a temporary SQLite file.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/store/sqlite"
	"github.com/hookd/hookd/internal/webhook"
)

// Bcrypt at its default cost would make every add and passwd take a tenth
// of a second. Set once here, before any test goroutine hashes; the binary
// TestMain builds is not affected.
func init() { auth.BcryptCost = bcrypt.MinCost }

// adminDB is a temporary database for the administrative commands.
type adminDB struct {
	dir  string
	path string
}

func setupAdmin(t *testing.T) adminDB {
	t.Helper()
	dir := t.TempDir()
	return adminDB{dir: dir, path: filepath.Join(dir, "data", "hookd.db")}
}

// runHookd runs the command line args in-process with stdin and returns
// what it printed and its error.
func runHookd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// run runs args on db: --database-url names it, and --env-file names a
// file that does not exist, so that nothing in the working directory or the
// environment can point the command elsewhere. The flags go before any
// "--", after which they would be arguments.
func (db adminDB) run(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	flags := []string{"--database-url", "sqlite://" + db.path, "--env-file", filepath.Join(db.dir, "absent.env")}
	at := slices.Index(args, "--")
	if at < 0 {
		at = len(args)
	}
	return runHookd(t, stdin, slices.Insert(slices.Clone(args), at, flags...)...)
}

// mustRun is run for commands that must succeed; it returns stdout.
func (db adminDB) mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	stdout, stderr, err := db.run(t, stdin, args...)
	if err != nil {
		t.Fatalf("hookd %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// mustFail runs a command that must fail with an error matching sentinel
// (unless nil) and containing every one of want.
func (db adminDB) mustFail(t *testing.T, stdin string, sentinel error, args []string, want ...string) {
	t.Helper()
	_, _, err := db.run(t, stdin, args...)
	if err == nil {
		t.Fatalf("hookd %s succeeded; want an error", strings.Join(args, " "))
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("hookd %s: error %q does not wrap %q", strings.Join(args, " "), err, sentinel)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("hookd %s: error %q does not mention %q", strings.Join(args, " "), err, w)
		}
	}
}

// user reads a user straight from the database.
func (db adminDB) user(t *testing.T, name string) (webhook.User, error) {
	t.Helper()
	st, err := sqlite.OpenShared(context.Background(), db.path)
	if err != nil {
		t.Fatalf("open the database: %v", err)
	}
	defer st.Close()
	return st.UserGet(context.Background(), name)
}

func (db adminDB) mustUser(t *testing.T, name string) webhook.User {
	t.Helper()
	u, err := db.user(t, name)
	if err != nil {
		t.Fatalf("UserGet(%q): %v", name, err)
	}
	return u
}

func (db adminDB) apiKeys(t *testing.T) []webhook.APIKey {
	t.Helper()
	st, err := sqlite.OpenShared(context.Background(), db.path)
	if err != nil {
		t.Fatalf("open the database: %v", err)
	}
	defer st.Close()
	keys, err := st.APIKeyList(context.Background())
	if err != nil {
		t.Fatalf("APIKeyList: %v", err)
	}
	return keys
}

func checkPassword(t *testing.T, u webhook.User, password string, want bool) {
	t.Helper()
	err := auth.CheckPassword(u.PasswordHash, password)
	switch {
	case want && err != nil:
		t.Errorf("user %s: password %q does not match the stored hash: %v", u.Username, password, err)
	case !want && err == nil:
		t.Errorf("user %s: password %q still matches", u.Username, password)
	}
}

var generatedPassword = regexp.MustCompile(`password(?: for user \S+)?: (\S+)\n`)

// printedPassword returns the generated password in a command's output.
func printedPassword(t *testing.T, stdout string) string {
	t.Helper()
	m := generatedPassword.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no generated password in the output:\n%s", stdout)
	}
	return m[1]
}

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	db := setupAdmin(t)

	out := db.mustRun(t, "correct horse battery\n", "user", "add", "alice", "--role", "admin", "--password-stdin")
	if want := "created user alice (admin)\n"; out != want {
		t.Errorf("add with --password-stdin printed %q; want %q", out, want)
	}
	alice := db.mustUser(t, "alice")
	if alice.Role != "admin" {
		t.Errorf("alice's role is %q; want admin", alice.Role)
	}
	checkPassword(t, alice, "correct horse battery", true)

	out = db.mustRun(t, "", "user", "add", "bob")
	if !strings.HasPrefix(out, "created user bob (viewer) with password: ") {
		t.Errorf("add without --password-stdin printed:\n%s", out)
	}
	bobPassword := printedPassword(t, out)
	bob := db.mustUser(t, "bob")
	if bob.Role != "viewer" {
		t.Errorf("bob's role is %q; want the default, viewer", bob.Role)
	}
	checkPassword(t, bob, bobPassword, true)

	// Listing: a table by name, never a hash.
	db.mustRun(t, "", "user", "add", "Zed.ops-1") // sorts before "alice"
	out = db.mustRun(t, "", "user", "list")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var names []string
	for i, line := range lines {
		fields := strings.Fields(line)
		if i == 0 {
			if strings.Join(fields, " ") != "NAME ROLE CREATED" {
				t.Errorf("header %q; want NAME ROLE CREATED", line)
			}
			continue
		}
		names = append(names, fields[0])
	}
	if got, want := strings.Join(names, " "), "Zed.ops-1 alice bob"; got != want {
		t.Errorf("list shows %q; want %q:\n%s", got, want, out)
	}
	if strings.Contains(out, "$2") {
		t.Errorf("list shows a password hash:\n%s", out)
	}
	var rows []struct {
		Name, Role   string
		PasswordHash string `json:"password_hash"`
	}
	out = db.mustRun(t, "", "user", "list", "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(rows) != 3 || rows[1].Name != "alice" || rows[1].Role != "admin" || strings.Contains(out, "$2") {
		t.Errorf("list --json:\n%s", out)
	}

	// passwd: from stdin, then generated.
	out = db.mustRun(t, "a new password\r\n", "user", "passwd", "bob", "--password-stdin")
	if !strings.Contains(out, "password of user bob changed") {
		t.Errorf("passwd printed %q", out)
	}
	bob = db.mustUser(t, "bob")
	checkPassword(t, bob, "a new password", true) // the \r\n is not part of it
	checkPassword(t, bob, bobPassword, false)
	out = db.mustRun(t, "", "user", "passwd", "alice")
	checkPassword(t, db.mustUser(t, "alice"), printedPassword(t, out), true)

	// role and rm.
	out = db.mustRun(t, "", "user", "role", "bob", "admin")
	if !strings.Contains(out, "user bob is now admin") {
		t.Errorf("role printed %q", out)
	}
	if r := db.mustUser(t, "bob").Role; r != "admin" {
		t.Errorf("bob's role is %q after role bob admin", r)
	}
	db.mustRun(t, "", "user", "role", "alice", "viewer")
	if r := db.mustUser(t, "alice").Role; r != "viewer" {
		t.Errorf("alice's role is %q after role alice viewer", r)
	}
	out = db.mustRun(t, "", "user", "rm", "alice")
	if !strings.Contains(out, "deleted user alice") {
		t.Errorf("rm printed %q", out)
	}
	if _, err := db.user(t, "alice"); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("alice after rm: %v; want ErrNotFound", err)
	}
}

func TestUserAddRefuses(t *testing.T) {
	t.Parallel()
	db := setupAdmin(t)
	db.mustRun(t, "", "user", "add", "taken")
	cases := []struct {
		name     string
		stdin    string
		args     []string
		sentinel error
		want     []string
	}{
		{"name taken", "", []string{"user", "add", "taken"}, webhook.ErrConflict, []string{`"taken"`, "already exists"}},
		{"name starting with a dash", "", []string{"user", "add", "--", "-bob"}, webhook.ErrInvalid, []string{`"-bob"`}},
		{"name with a space", "", []string{"user", "add", "bob smith"}, webhook.ErrInvalid, []string{"user name"}},
		{"name with a slash", "", []string{"user", "add", "a/b"}, webhook.ErrInvalid, []string{"user name"}},
		{"name of 65 characters", "", []string{"user", "add", strings.Repeat("a", 65)}, webhook.ErrInvalid, []string{"1-64"}},
		{"name not ASCII", "", []string{"user", "add", "zoë"}, webhook.ErrInvalid, []string{"user name"}},
		{"short password", "short\n", []string{"user", "add", "carol", "--password-stdin"}, webhook.ErrInvalid, []string{"password", "at least 8"}},
		{"password of 73 bytes", strings.Repeat("p", 73) + "\n", []string{"user", "add", "carol", "--password-stdin"}, webhook.ErrInvalid, []string{"at most 72"}},
		{"no password on stdin", "", []string{"user", "add", "carol", "--password-stdin"}, nil, []string{"--password-stdin", "no password"}},
		{"unknown role", "", []string{"user", "add", "carol", "--role", "root"}, webhook.ErrInvalid, []string{"--role", `"root"`}},
		{"no name", "", []string{"user", "add"}, nil, []string{"arg"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db.mustFail(t, tc.stdin, tc.sentinel, tc.args, tc.want...)
		})
	}
	out := db.mustRun(t, "", "user", "list")
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("after the refusals, list shows %d lines; want the header and taken:\n%s", n, out)
	}
}

func TestUserUnknown(t *testing.T) {
	t.Parallel()
	db := setupAdmin(t)
	db.mustRun(t, "", "user", "add", "alice", "--role", "admin")
	for _, args := range [][]string{
		{"user", "passwd", "ghost"},
		{"user", "role", "ghost", "admin"},
		{"user", "rm", "ghost"},
	} {
		db.mustFail(t, "", webhook.ErrNotFound, args, `"ghost"`, "hookd user list")
	}
	db.mustFail(t, "", webhook.ErrInvalid, []string{"user", "role", "alice", "owner"}, `"owner"`)
}

func TestLastAdminGuard(t *testing.T) {
	t.Parallel()
	db := setupAdmin(t)
	db.mustRun(t, "", "user", "add", "alice", "--role", "admin")
	db.mustRun(t, "", "user", "add", "bob")

	db.mustFail(t, "", webhook.ErrConflict, []string{"user", "role", "alice", "viewer"}, `"alice"`, "last admin")
	db.mustFail(t, "", webhook.ErrConflict, []string{"user", "rm", "alice"}, `"alice"`, "last admin")
	if r := db.mustUser(t, "alice").Role; r != "admin" {
		t.Fatalf("alice is %q after refused changes; want admin", r)
	}
	// Viewers are not guarded; a no-op role change is not refused either.
	out := db.mustRun(t, "", "user", "role", "alice", "admin")
	if !strings.Contains(out, "already admin") {
		t.Errorf("role alice admin printed %q", out)
	}

	// With a second admin, either may go, but not both.
	db.mustRun(t, "", "user", "role", "bob", "admin")
	db.mustRun(t, "", "user", "rm", "alice")
	db.mustFail(t, "", webhook.ErrConflict, []string{"user", "role", "bob", "viewer"}, "last admin")
	db.mustFail(t, "", webhook.ErrConflict, []string{"user", "rm", "bob"}, "last admin")
}

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	db := setupAdmin(t)

	stdout, stderr, err := db.run(t, "", "apikey", "create", "--name", "ci-deploy", "--role", "admin")
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, stderr)
	}
	key := strings.TrimSuffix(stdout, "\n")
	if !strings.HasPrefix(key, auth.APIKeyPrefix) || strings.ContainsAny(key, " \n") {
		t.Fatalf("apikey create printed %q on stdout; want the key alone", stdout)
	}
	if !strings.Contains(stderr, "cannot be shown again") {
		t.Errorf("apikey create gave no warning that the key is shown once:\n%s", stderr)
	}
	db.mustRun(t, "", "apikey", "create", "--name", "grafana")

	keys := db.apiKeys(t)
	if len(keys) != 2 {
		t.Fatalf("stored keys: %+v; want 2", keys)
	}
	viewer, admin := keys[0], keys[1] // newest first
	if admin.Hash != auth.HashAPIKey(key) {
		t.Errorf("stored hash %s is not the hash of the printed key", admin.Hash)
	}
	if admin.Name != "ci-deploy" || admin.Role != "admin" || !strings.HasPrefix(admin.ID, "key_") || admin.CreatedAt.IsZero() {
		t.Errorf("stored key: %+v", admin)
	}
	if viewer.Name != "grafana" || viewer.Role != "viewer" {
		t.Errorf("key created without --role: %+v; want a viewer", viewer)
	}
	if !strings.Contains(stderr, admin.ID) {
		t.Errorf("apikey create did not name the key's id %s:\n%s", admin.ID, stderr)
	}

	for _, args := range [][]string{{"apikey", "list"}, {"apikey", "list", "--json"}} {
		out := db.mustRun(t, "", args...)
		for _, secret := range []string{key, admin.Hash, viewer.Hash, auth.APIKeyPrefix} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows %q:\n%s", strings.Join(args, " "), secret, out)
			}
		}
		for _, want := range []string{admin.ID, "ci-deploy", viewer.ID, "grafana"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", strings.Join(args, " "), want, out)
			}
		}
	}
	out := db.mustRun(t, "", "apikey", "list")
	if header := strings.Fields(strings.SplitN(out, "\n", 2)[0]); strings.Join(header, " ") != "ID NAME ROLE CREATED LAST USED" {
		t.Errorf("list header %q", header)
	}
	if !strings.Contains(out, "never") {
		t.Errorf("list does not say unused keys were never used:\n%s", out)
	}

	out = db.mustRun(t, "", "apikey", "rm", admin.ID)
	if !strings.Contains(out, "deleted API key "+admin.ID) {
		t.Errorf("rm printed %q", out)
	}
	if keys := db.apiKeys(t); len(keys) != 1 || keys[0].ID != viewer.ID {
		t.Errorf("keys after rm: %+v; want only %s", keys, viewer.ID)
	}
	db.mustFail(t, "", webhook.ErrNotFound, []string{"apikey", "rm", admin.ID}, admin.ID, "hookd apikey list")

	db.mustFail(t, "", nil, []string{"apikey", "create"}, `"name"`)
	db.mustFail(t, "", webhook.ErrInvalid, []string{"apikey", "create", "--name", "a b"}, "--name")
	db.mustFail(t, "", webhook.ErrInvalid, []string{"apikey", "create", "--name", "x", "--role", "root"}, "--role")
	if keys := db.apiKeys(t); len(keys) != 1 {
		t.Errorf("refused creates stored keys: %+v", keys)
	}
}

// TestAdminConfiguration: the commands find the database as serve does,
// from the .env file and the environment, and read nothing else: neither
// the YAML file nor settings they do not use can make them fail.
func TestAdminConfiguration(t *testing.T) {
	t.Parallel()
	if _, ok := os.LookupEnv("DATABASE_URL"); ok {
		t.Skip("DATABASE_URL is set in the environment and wins over the .env file under test")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "from-env-file.db")
	envFile := filepath.Join(dir, "hookd.env")
	dotenv := "DATABASE_URL=sqlite://" + db + "\n" +
		"HOOKD_CONFIG=" + filepath.Join(dir, "missing.yaml") + "\n" +
		"PORT=not-a-port\nMAX_RETRIES=-1\nREDIS_URL=redis://localhost\n"
	if err := os.WriteFile(envFile, []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runHookd(t, "", "user", "add", "alice", "--env-file", envFile); err != nil {
		t.Fatalf("user add with DATABASE_URL from the env file: %v\n%s", err, stderr)
	}
	if _, err := (adminDB{dir: dir, path: db}).user(t, "alice"); err != nil {
		t.Errorf("alice is not in the env file's database: %v", err)
	}

	absent := filepath.Join(dir, "absent.env")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"postgres not answering", []string{"user", "list", "--database-url", "postgres://root@127.0.0.1:1/hookd?connect_timeout=2"}, "postgres"},
		{"other scheme", []string{"apikey", "list", "--database-url", "mysql://localhost/hookd"}, `DATABASE_URL: "mysql://localhost/hookd" must start with sqlite://, postgres://, mongodb:// or mongodb+srv://`},
		{"no path", []string{"user", "add", "bob", "--database-url", "sqlite://"}, "DATABASE_URL: sqlite:// needs a file path"},
		{"missing database", []string{"user", "list", "--database-url", "sqlite://" + filepath.Join(dir, "typo.db")}, "no database at"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runHookd(t, "", append(tc.args, "--env-file", absent)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "typo.db")); err == nil {
		t.Error("user list created the database it was pointed at")
	}
}

// TestUserAddBesideServer runs the commands while another store holds the
// database with sqlite.Open, as a running `hookd serve` does.
func TestUserAddBesideServer(t *testing.T) {
	t.Parallel()
	db := setupAdmin(t)
	ctx := context.Background()
	server, err := sqlite.Open(ctx, db.path)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if second, err := sqlite.Open(ctx, db.path); err == nil {
		second.Close()
		t.Fatal("a second sqlite.Open succeeded; the test would not prove anything")
	}

	db.mustRun(t, "a long password\n", "user", "add", "alice", "--role", "admin", "--password-stdin")
	key := strings.TrimSpace(db.mustRun(t, "", "apikey", "create", "--name", "ci"))

	u, err := server.UserGet(ctx, "alice")
	if err != nil {
		t.Fatalf("the serving store does not see the new user: %v", err)
	}
	checkPassword(t, u, "a long password", true)
	if _, err := server.APIKeyGetByHash(ctx, auth.HashAPIKey(key)); err != nil {
		t.Errorf("the serving store does not find the new key: %v", err)
	}
	if out := db.mustRun(t, "", "user", "list"); !strings.Contains(out, "alice") {
		t.Errorf("user list beside the server:\n%s", out)
	}
}
