// Package e2e holds tests that run the built clavis binary as operators do:
// two server processes on one database with a fake FCM (twoservers_test.go),
// and the driver-level benchmarks the load run (load/run.sh) compares the
// HTTP figures with (driver_bench_test.go). It has no code of its own.
package e2e
