// Package journal is the runner's memory across crashes.
//
// After every step the runner appends one Record to journal.jsonl in the
// cluster's state folder (./.etcdplay/<cluster>/ by default) and fsyncs it
// before going on, so that whatever happens next (a crash, a dropped SSH
// connection, Ctrl-C) the next `resume` knows what was done, and above all
// which destructive step was started but not known to be finished
// (invariant 7 in docs/safety.md: never repeat a destructive step blindly).
//
// The file is append-only JSON lines. A crash in the middle of a write can
// leave a torn last line; Read ignores it with a warning, and Open trims it
// so the next record starts on a line of its own. A damaged line anywhere
// else is an error: the journal can no longer be trusted, and a person
// should look.
//
// State folds the records of the last run into what resume needs: per
// member, whether it is done, the last step done, and the step in flight.
// The journal only records; re-checking the cluster before acting on an
// in-flight step is the runner's job.
package journal
