// Command clavis is the Clavis backend. With no arguments (or `serve`) it
// starts the server on the embedded SQLite store in CLAVIS_DATA_DIR, or on
// MongoDB when MONGODB_URI is set; `clavis help` lists the other commands.
// This file only dispatches: configuration is read in config.go, the
// stores are chosen in stores.go and wired in serve.go.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

const usage = `clavis: companions for outings (see README.md)

Usage:
  clavis [serve]              start the server (the default)
  clavis seed                 load the demo organisation and print its logins
  clavis backup FILE          copy the embedded database to FILE while the server runs
  clavis import-ferretdb      move a data directory of a release before SQLite into clavis.db
  clavis simulate [-json]     a month of a town: Clavis's matching against nearest-first
  clavis version              print the version
  clavis help                 print this text

Configuration comes from environment variables (PORT, CLAVIS_DATA_DIR,
MONGODB_URI, ...): see docs/configuration.md.
`

func main() {
	privateFiles()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// dispatch runs one subcommand and returns the process's exit code: 0 on
// success, 1 when the command failed, 2 for a command it does not know.
func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	fail := func(err error) int {
		if err == nil {
			return 0
		}
		fmt.Fprintf(stderr, "clavis %s: %v\n", cmd, err)
		return 1
	}
	switch cmd {
	case "serve":
		return fail(run(ctx, getenv, stderr))
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, "clavis", version)
		return 0
	case "seed":
		return fail(runSeed(ctx, getenv, stdout))
	case "backup":
		return fail(runBackup(ctx, getenv, args[1:], stdout))
	case "import-ferretdb":
		return fail(runImportFerretDB(ctx, getenv, stdout))
	case "simulate":
		return fail(runSimulate(ctx, args[1:], stdout, stderr))
	}
	fmt.Fprintf(stderr, "clavis: unknown command %q\n\n%s", cmd, usage)
	return 2
}
