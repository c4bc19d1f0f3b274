// Package report turns a run's events into the report an operator keeps:
// report.md for people (a ticket, a change review) and report.json for
// tools, both written to the cluster's state folder at the end of a run.
//
// Build is the logic (what happened to each member, where the time went);
// the renderers only format a *Report, the terraform split between a plan
// and its views. Rendering is deterministic, with times in UTC and sorted
// keys, so reports diff cleanly and are tested against golden files.
//
// Time is split the way an operator asks about it afterwards: how long etcd
// was stopping (ssh-stop), starting (ssh-start), and how long the runner
// waited for the cluster (wait: healthy, caught-up, a version, a pause);
// the rest is the runner's own overhead (SSH round trips, probes, backups,
// swaps). Secrets never reach a report: events and the backup manifest are
// redacted on the way in.
package report
