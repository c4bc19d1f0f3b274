// Package events is how the runner tells the world what it is doing.
//
// The runner never prints. It emits Events, plain data, to a Sink; views
// render them (the terraform split between logic and rendering):
//
//   - Human renders live per-member progress through a charmbracelet/log
//     logger built once in main and passed in, each component adding its
//     prefix (the soft-serve pattern). Colour comes from the logger's
//     renderer, which follows the writer: none when it is not a terminal or
//     when NO_COLOR is set.
//   - JSON writes one object per line for `-o json`, with a stable field
//     order, so scripts can follow a run.
//   - Recorder keeps events in memory for tests and for the run report.
//
// Every sink passes events through Redact first, so no secret reaches any
// output whatever a caller put into an event (safety invariant 8).
package events
