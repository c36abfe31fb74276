// Package loadtest holds the engine's resource-budget load test
// (docs/resources.md): it builds postvakt, starts a
// real `postvakt serve` with the default limits, and drives it with 1,000
// concurrent AUTH attempts with wrong passwords, then 100 concurrent 24 MB
// messages, while it checks that /healthz answers and ordinary mail is
// accepted, and reads the peak RSS (VmHWM) and CPU time of the process.
// It is slow, so it is not in the default test run:
//
//	make loadtest    # go test -tags loadtest -v -timeout 30m ./engine/loadtest/
package loadtest
