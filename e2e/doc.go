// Package e2e holds tests that run the built clavis binary as operators do:
// two server processes on one SQLite data directory with a fake FCM
// (twoservers_test.go), kill -9 under a write load (crash_test.go), backup
// and restore under writes (backup_test.go), broken data directories and
// the FerretDB import (faults_test.go), and the store-level benchmarks the
// load run (load/run.sh) compares the HTTP figures with
// (store_bench_test.go). It has no code of its own.
package e2e
