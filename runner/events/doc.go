// Package events is how the runner tells the world what it is doing.
//
// The runner never prints. It emits Events, plain data, to a Sink; views
// render them (the terraform split between logic and rendering):
//
//   - Progress is what people see by default: one line per step (on a
//     terminal the running one rewritten in place with a spinner), a
//     header per member with its version change and downtime, warnings
//     and gates.
//   - Human renders the detailed log (`-v`) through a charmbracelet/log
//     logger built once in main and passed in, each component adding its
//     prefix (the soft-serve pattern).
//
// Neither asks the terminal anything: colour is decided up front from the
// writer and the environment (none when it is not a terminal, NO_COLOR is
// set, or CI is), because a colour query on a pseudo-terminal that nobody
// answers stalls the first line for 10 s.
//   - JSON writes one object per line for `-o json`, with a stable field
//     order, so scripts can follow a run.
//   - Recorder keeps events in memory for tests and for the run report.
//
// Every sink passes events through Redact first, so no secret reaches any
// output whatever a caller put into an event (invariant 8 in docs/safety.md).
package events
