// Package fleet runs one command (run, resume) over several clusters, one
// inventory each: up to Options.Parallel at a time, each under its own
// in-cluster lock, journal and report, so a failure stops only its own
// cluster unless Options.FailFast asks the others to stop at their next
// safe point (between members).
//
// Nothing here coordinates between machines: each cluster's lock lives in
// the cluster (docs/safety.md invariant 5), so two operators or CI jobs
// can work through the same fleet at once. A cluster whose lock another
// run holds, or that is already on the playbook's target (at the fleet's
// first look, or by the time its run starts: another operator upgraded it
// meanwhile), is skipped with its reason, not failed.
//
// The package knows nothing of SSH or etcd clients: the caller gives each
// cluster a Task that does its work (cmd/etcdplay wires the runner), and
// fleet orders the tasks, judges their outcomes (FromRun), renders the
// progress (one line per cluster) and the summary (table, markdown, JSON),
// and says the exit code (ExitCode).
package fleet
