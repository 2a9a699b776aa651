package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/auth"
	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/webhook"
)

// apiKeyIDPrefix starts the id of every API key ("key_…"), the handle by
// which a key is listed and removed; the key itself is never shown again.
const apiKeyIDPrefix = "key_"

// apiKeyCommand is `hookd apikey`: managing the long-lived keys scripts use
// for the management API. envFile is the root's --env-file.
func apiKeyCommand(envFile *string) *cobra.Command {
	sf := &storeFlags{envFile: envFile}
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Manage API keys for scripts",
		Long: `apikey creates, lists and removes API keys: long-lived credentials for
scripts, sent as "Authorization: Bearer hk_...". Each key has a role, admin or
viewer, like a user. Only a hash of a key is stored: a key is shown once,
when it is created, and a lost key is replaced, not recovered.

These commands open the database named by DATABASE_URL (or --database-url,
or the .env file) directly, and work while hookd serve is running. They do
not read the YAML file of sources and destinations.`,
		Example: `  hookd apikey create --name ci-deploy --role admin
  hookd apikey list
  hookd apikey rm key_01J9Z6Q8W3E1R5T7Y9U1I3O5P7`,
		Args: cobra.NoArgs,
	}
	sf.register(cmd)
	cmd.AddCommand(apiKeyCreateCommand(sf), apiKeyListCommand(sf), apiKeyRmCommand(sf))
	return cmd
}

func apiKeyCreateCommand(sf *storeFlags) *cobra.Command {
	var name, role string
	cmd := &cobra.Command{
		Use:   "create --name NAME [--role admin|viewer]",
		Short: "Create an API key and print it once",
		Long: `create makes a new API key with the role given by --role (viewer unless
told). The key alone is printed on standard output, and a note with its id
on standard error, so that a script can capture the key. It cannot be shown
again: store it now. NAME, a label for people, is 1-64 letters, digits, '_',
'-' or '.', starting with a letter or digit.`,
		Example: `  hookd apikey create --name ci-deploy --role admin
  KEY=$(hookd apikey create --name grafana)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !webhook.ValidName(name) {
				return fmt.Errorf("%w: --name: %q must be 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit", webhook.ErrInvalid, name)
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			return sf.withStore(cmd, true, func(ctx context.Context, st store.Store) error {
				plaintext, hash := auth.NewAPIKey()
				key := webhook.APIKey{ID: ids.New(apiKeyIDPrefix), Name: name, Hash: hash, Role: string(r), CreatedAt: time.Now().UTC()}
				if err := st.APIKeyCreate(ctx, key); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "created API key %s %q (%s); it cannot be shown again, store it now:\n", key.ID, name, r)
				fmt.Fprintln(cmd.OutOrStdout(), plaintext)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "a label saying who or what uses the key (required)")
	cmd.Flags().StringVar(&role, "role", string(auth.RoleViewer), "admin or viewer")
	_ = cmd.MarkFlagRequired("name") // cannot fail: the flag is defined above
	return cmd
}

// apiKeyJSON is a key as `hookd apikey list --json` prints it: never the
// key or its hash.
type apiKeyJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

func apiKeyListCommand(sf *storeFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List API keys (never the keys themselves)",
		Long: `list prints every API key, newest first: its id, name, role, creation time
and last use (UTC). The keys themselves are not stored and cannot be shown.
--json prints a JSON array instead, for scripts.`,
		Example: `  hookd apikey list
  hookd apikey list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sf.withStore(cmd, false, func(ctx context.Context, st store.Store) error {
				keys, err := st.APIKeyList(ctx)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if asJSON {
					rows := make([]apiKeyJSON, 0, len(keys))
					for _, k := range keys {
						rows = append(rows, apiKeyJSON{ID: k.ID, Name: k.Name, Role: k.Role, CreatedAt: k.CreatedAt.UTC(), LastUsedAt: k.LastUsedAt.UTC()})
					}
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(rows)
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tLAST USED")
				for _, k := range keys {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, formatTime(k.CreatedAt), formatTime(k.LastUsedAt))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return cmd
}

func apiKeyRmCommand(sf *storeFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID",
		Aliases: []string{"remove", "delete", "revoke"},
		Short:   "Delete an API key",
		Long: `rm deletes an API key by its id (see hookd apikey list). Requests that
present the key are refused from then on.`,
		Example: `  hookd apikey rm key_01J9Z6Q8W3E1R5T7Y9U1I3O5P7`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			return sf.withStore(cmd, false, func(ctx context.Context, st store.Store) error {
				err := st.APIKeyDelete(ctx, id)
				if errors.Is(err, webhook.ErrNotFound) {
					return fmt.Errorf("%w: no API key with id %q (see hookd apikey list)", webhook.ErrNotFound, id)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted API key %s\n", id)
				return nil
			})
		},
	}
}
