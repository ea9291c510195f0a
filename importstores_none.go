//go:build !importcmd

package main

// importTargets is empty until the domain packages' SQLite stores are
// merged; then importstores.go loses its build tag and this file goes.
func importTargets() []importTarget { return nil }
