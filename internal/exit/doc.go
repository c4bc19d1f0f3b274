// Package exit carries an exit code and a hint with an error, so that the
// one place that calls os.Exit (cmd/etcdplay's main) can turn any failure
// into the documented code for its class (docs/architecture.md).
package exit
