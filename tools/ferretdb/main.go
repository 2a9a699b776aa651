// Command ferretdb runs FerretDB, a MongoDB wire-protocol server, with its
// SQLite backend. It exists so that hookd's MongoDB store can be tested
// against a real server on machines without a MongoDB package: FerretDB's own
// command does not build from its module zip (a generated version file is
// missing), so this small main embeds its library instead. It lives in its
// own module because FerretDB pins older versions of libraries hookd uses.
//
// Usage:
//
//	ferretdb -listen 127.0.0.1:27017 -dir /tmp/ferretdb-data
//
// It stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("dir", "ferretdb-data", "directory holding the SQLite files (created if missing)")
	verbose := flag.Bool("v", false, "log at info level instead of errors only")
	flag.Parse()

	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}

	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// FerretDB's SQLite backend wants a file: URI naming a directory,
	// with a trailing slash.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Info("listening", "addr", *listen, "dir", abs)
	if err := f.Run(ctx); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}
