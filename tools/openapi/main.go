// Command openapi prints the API's OpenAPI document without a server or a
// database: the routes, hence the document, do not depend on either. The
// linter of .ci/run reads it (tools/openapi/lint.sh).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/clavis-app/clavis/api"
)

func main() {
	s, err := api.New(api.Deps{Version: "lint"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.Doc()); err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
}
