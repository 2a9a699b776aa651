package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/config"
)

// migrateCommand is `hookd migrate`: apply the store's pending migrations
// and exit, so a rollout can migrate once before starting new processes
// with HOOKD_MIGRATE=false.
func migrateCommand(envFile *string) *cobra.Command {
	f := &storeFlags{envFile: envFile}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's pending schema migrations and exit",
		Long: `migrate applies the pending versioned migrations of the store that
DATABASE_URL (or --database-url) names, then exits. hookd serve and hookd
worker also migrate on start unless HOOKD_MIGRATE=false (--no-migrate);
running migrate first lets a rollout start every new process without it.
Several processes migrating at once is safe: PostgreSQL migrations take an
advisory lock. On MongoDB it ensures the collections and indexes, as every
start does.`,
		Example: `  DATABASE_URL=postgres://hookd@db/hookd hookd migrate`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url, err := f.resolveURL(cmd)
			if err != nil {
				return err
			}
			cfg := config.Default()
			cfg.DatabaseURL = url
			if err := app.Migrate(cmd.Context(), cfg); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "hookd: the store's schema is up to date")
			return nil
		},
	}
	cmd.Flags().StringVar(&f.databaseURL, "database-url", "", "sqlite://PATH, postgres://… or mongodb://… (DATABASE_URL)")
	return cmd
}
