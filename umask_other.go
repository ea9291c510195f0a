//go:build !unix

package main

// privateFiles: outside Unix there is no umask; the data directory's ACLs
// decide.
func privateFiles() (restore func()) { return func() {} }
