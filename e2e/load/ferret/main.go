// Command ferret runs a FerretDB (SQLite backend) for e2e/load/run.sh's
// ENGINES=ferretdb run: the clavis binary does not embed FerretDB, so the
// load run starts one here and points MONGODB_URI at it. It prints the URI
// on its first line and serves until SIGINT or SIGTERM. Tooling, not part
// of the product binary.
//
//	go run ./e2e/load/ferret -dir /tmp/ferret-data
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clavis-app/clavis/internal/db/ferret"
)

func main() {
	dir := flag.String("dir", "", "FerretDB's data directory (required)")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	d, err := ferret.Open(openCtx, ferret.Config{DataDir: *dir, Addr: *addr})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferret:", err)
		os.Exit(1)
	}
	fmt.Println(d.URI)
	<-ctx.Done()
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = d.Close(closeCtx)
}
