//go:build unix

package main

import "syscall"

// privateFiles makes every file and directory this process creates private
// to its user (0600 and 0700), whatever umask it was started with: the
// embedded database's files, their -wal and -shm companions and backups
// hold personal data. It returns a function that restores the old umask.
func privateFiles() (restore func()) {
	old := syscall.Umask(0o077)
	return func() { syscall.Umask(old) }
}
