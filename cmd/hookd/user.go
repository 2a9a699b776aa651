package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// storeFlags locate the database for the administrative commands (`hookd
// user`, `hookd apikey`). They read DATABASE_URL the way serve does — the
// --env-file, the environment, then --database-url — and nothing else: not
// the YAML file of sources, which these commands have no use for and which
// must not stop an operator from resetting a password.
type storeFlags struct {
	envFile     *string // the root's --env-file, read at run time
	databaseURL string
}

// register adds --database-url to a parent command, for all its children.
func (f *storeFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.databaseURL, "database-url", "", "sqlite://PATH, postgres://… or mongodb://… (DATABASE_URL)")
}

// resolveURL returns the DATABASE_URL the configuration names, or the
// error serve would give for it.
func (f *storeFlags) resolveURL(cmd *cobra.Command) (string, error) {
	env, err := config.EnvWithDotenv(*f.envFile)
	if err != nil {
		return "", err
	}
	// Only DATABASE_URL is passed on, so that a setting these commands do
	// not use (a bad PORT, say) cannot make them fail.
	onlyDatabase := func(key string) (string, bool) {
		if key != "DATABASE_URL" {
			return "", false
		}
		return env(key)
	}
	cfg := config.Default()
	if err := cfg.FromEnv(onlyDatabase); err != nil {
		return "", err
	}
	if cmd.Flags().Changed("database-url") {
		cfg.DatabaseURL = f.databaseURL
	}
	// Every other field holds its default, so only DATABASE_URL can fail.
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	return cfg.DatabaseURL, nil
}

// withStore opens the configured database as administrative commands do
// (app.OpenShared: SQLite without its process lock), so that it works
// beside a running `hookd serve`,
// runs fn and closes the store. Unless create is set, a database that does
// not exist is an error rather than a new empty file: listing or deleting
// in a mistyped path should say so, not answer "nothing here".
func (f *storeFlags) withStore(cmd *cobra.Command, create bool, fn func(ctx context.Context, st store.Store) error) (err error) {
	url, err := f.resolveURL(cmd)
	if err != nil {
		return err
	}
	cfg := config.Default()
	cfg.DatabaseURL = url
	if path, ok := cfg.SQLitePath(); ok && !create {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no database at %s: check DATABASE_URL or --database-url", path)
		}
	}
	ctx := cmd.Context()
	st, err := app.OpenShared(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
		}
	}()
	return fn(ctx, st)
}

func validateUserName(name string) error {
	if !webhook.ValidName(name) {
		return fmt.Errorf("%w: user name %q: must be 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit", webhook.ErrInvalid, name)
	}
	return nil
}

// readPassword reads one line from in, without its line ending.
func readPassword(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("--password-stdin: read standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("--password-stdin: no password on standard input")
	}
	return pw, nil
}

// newPassword returns the password to set and whether it was generated:
// from standard input with --password-stdin, else a fresh random one.
func newPassword(cmd *cobra.Command, fromStdin bool) (string, bool, error) {
	if !fromStdin {
		return auth.GeneratePassword(), true, nil
	}
	pw, err := readPassword(cmd.InOrStdin())
	if err != nil {
		return "", false, err
	}
	if err := auth.ValidatePassword(pw); err != nil {
		return "", false, err
	}
	return pw, false, nil
}

// getUser is UserGet with an error that says what to do about a wrong name.
func getUser(ctx context.Context, st store.Store, name string) (webhook.User, error) {
	u, err := st.UserGet(ctx, name)
	if errors.Is(err, webhook.ErrNotFound) {
		return u, fmt.Errorf("%w: no user %q (see hookd user list)", webhook.ErrNotFound, name)
	}
	return u, err
}

// refuseLastAdmin returns an error when u is the only admin, whom the
// caller is about to demote or delete: nobody could manage users after.
//
// The count and the change are not one transaction, so two commands run at
// the same instant could each remove one of the last two admins; that takes
// two operators racing each other, and another admin can be added back
// from this command line at any time.
func refuseLastAdmin(ctx context.Context, st store.Store, u webhook.User, action string) error {
	if u.Role != string(auth.RoleAdmin) {
		return nil
	}
	users, err := st.UserList(ctx)
	if err != nil {
		return err
	}
	admins := 0
	for _, other := range users {
		if other.Role == string(auth.RoleAdmin) {
			admins++
		}
	}
	if admins > 1 {
		return nil
	}
	return fmt.Errorf("%w: cannot %s %q: it is the last admin, and nobody could manage users or settings without one; make another user admin first (hookd user role NAME admin)",
		webhook.ErrConflict, action, u.Username)
}

// userCommand is `hookd user`: managing the people who may sign in to the
// dashboard and management API. envFile is the root's --env-file.
func userCommand(envFile *string) *cobra.Command {
	sf := &storeFlags{envFile: envFile}
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage dashboard and API users",
		Long: `user adds, lists and changes the users who may sign in to the dashboard and
the management API. An admin may change everything; a viewer may only read.

These commands open the database named by DATABASE_URL (or --database-url,
or the .env file) directly, and work while hookd serve is running. They do
not read the YAML file of sources and destinations.`,
		Example: `  hookd user add alice --role admin
  printf '%s\n' "$PASSWORD" | hookd user add bob --password-stdin
  hookd user list --database-url sqlite:///var/lib/hookd/hookd.db`,
		Args: cobra.NoArgs,
	}
	sf.register(cmd)
	cmd.AddCommand(userAddCommand(sf), userPasswdCommand(sf), userRoleCommand(sf), userRmCommand(sf), userListCommand(sf))
	return cmd
}

func userAddCommand(sf *storeFlags) *cobra.Command {
	var (
		role      string
		fromStdin bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user",
		Long: `add creates a user with the role given by --role (viewer unless told).

The password is read from standard input (one line) with --password-stdin;
otherwise a random one is generated and printed once. Passwords need at
least 8 characters and at most 72 bytes. NAME is 1-64 letters, digits, '_',
'-' or '.', starting with a letter or digit.`,
		Example: `  hookd user add alice --role admin
  printf '%s\n' "$PASSWORD" | hookd user add bob --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateUserName(name); err != nil {
				return err
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			password, generated, err := newPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			hash, err := auth.HashPassword(password)
			if err != nil {
				return err
			}
			return sf.withStore(cmd, true, func(ctx context.Context, st store.Store) error {
				err := st.UserCreate(ctx, webhook.User{Username: name, PasswordHash: hash, Role: string(r), CreatedAt: time.Now().UTC()})
				if errors.Is(err, webhook.ErrConflict) {
					return fmt.Errorf("%w: user %q already exists; change it with hookd user passwd or hookd user role", webhook.ErrConflict, name)
				}
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if generated {
					fmt.Fprintf(out, "created user %s (%s) with password: %s\n", name, r, password)
					fmt.Fprintln(out, "The password is not shown again; change it with hookd user passwd", name)
				} else {
					fmt.Fprintf(out, "created user %s (%s)\n", name, r)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", string(auth.RoleViewer), "admin or viewer")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input instead of generating one")
	return cmd
}

func userPasswdCommand(sf *storeFlags) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password",
		Long: `passwd sets a new password for a user: read from standard input (one line)
with --password-stdin, otherwise generated and printed once. Tokens signed in
with the old password stay valid until they expire.`,
		Example: `  hookd user passwd admin
  printf '%s\n' "$PASSWORD" | hookd user passwd admin --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			password, generated, err := newPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			hash, err := auth.HashPassword(password)
			if err != nil {
				return err
			}
			return sf.withStore(cmd, false, func(ctx context.Context, st store.Store) error {
				if _, err := getUser(ctx, st, name); err != nil {
					return err
				}
				err := st.UserUpdate(ctx, store.UserUpdateParams{Username: name, PasswordHash: &hash, Now: time.Now().UTC()})
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if generated {
					fmt.Fprintf(out, "new password for user %s: %s\n", name, password)
				} else {
					fmt.Fprintf(out, "password of user %s changed\n", name)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input instead of generating one")
	return cmd
}

func userRoleCommand(sf *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "role NAME admin|viewer",
		Short: "Change a user's role",
		Long: `role makes a user an admin (may change everything) or a viewer (may only
read). The last admin cannot be made a viewer: make another user admin first.`,
		Example: `  hookd user role bob admin
  hookd user role alice viewer`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			r, err := auth.ParseRole(args[1])
			if err != nil {
				return err
			}
			return sf.withStore(cmd, false, func(ctx context.Context, st store.Store) error {
				u, err := getUser(ctx, st, name)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if u.Role == string(r) {
					fmt.Fprintf(out, "user %s is already %s\n", name, r)
					return nil
				}
				if err := refuseLastAdmin(ctx, st, u, "make a viewer of"); err != nil {
					return err
				}
				role := string(r)
				if err := st.UserUpdate(ctx, store.UserUpdateParams{Username: name, Role: &role, Now: time.Now().UTC()}); err != nil {
					return err
				}
				fmt.Fprintf(out, "user %s is now %s\n", name, r)
				return nil
			})
		},
	}
}

func userRmCommand(sf *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove", "delete"},
		Short:   "Delete a user",
		Long: `rm deletes a user. The last admin cannot be deleted: make another user
admin first.`,
		Example: `  hookd user rm bob`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return sf.withStore(cmd, false, func(ctx context.Context, st store.Store) error {
				u, err := getUser(ctx, st, name)
				if err != nil {
					return err
				}
				if err := refuseLastAdmin(ctx, st, u, "delete"); err != nil {
					return err
				}
				if err := st.UserDelete(ctx, name); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", name)
				return nil
			})
		},
	}
}

// userJSON is a user as `hookd user list --json` prints it: never the
// password hash.
type userJSON struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func userListCommand(sf *storeFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users",
		Long: `list prints every user, by name, with role and creation time (UTC). --json
prints a JSON array instead, for scripts.`,
		Example: `  hookd user list
  hookd user list --json | jq -r '.[] | select(.role == "admin") | .name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sf.withStore(cmd, false, func(ctx context.Context, st store.Store) error {
				users, err := st.UserList(ctx)
				if err != nil {
					return err
				}
				// The store lists by name already; sorting here makes the
				// order this command's promise whatever the driver.
				slices.SortFunc(users, func(a, b webhook.User) int { return strings.Compare(a.Username, b.Username) })
				out := cmd.OutOrStdout()
				if asJSON {
					rows := make([]userJSON, 0, len(users))
					for _, u := range users {
						rows = append(rows, userJSON{Name: u.Username, Role: u.Role, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()})
					}
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(rows)
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
				for _, u := range users {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Username, u.Role, formatTime(u.CreatedAt))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return cmd
}

// formatTime is how the administrative listings show a time: UTC to the
// second, "never" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
