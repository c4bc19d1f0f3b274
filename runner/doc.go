// Package runner plans and applies playbooks.
//
// The plan (plan.go, plan_live.go) is plain data that views render
// (plan_view.go for people, WritePlanJSON for machines), as terraform keeps
// plans, apply and views apart. A live plan probes the cluster, orders the
// members, evaluates every guard with the facts of now and records the
// facts each guard read and the digests of the playbook and inventory;
// `run --plan` refuses a plan whose digests no longer match (CheckPlan).
//
// Apply, Resume and Rollback take interfaces only (steps.Cluster,
// steps.Hosts, a Locker, an events.Sink, a clock), so every safety rule is
// tested against a fake cluster; the CLI wires target (the prober, the
// SSH hosts and the lock from one target.Open). The runner imports no
// transport, no etcd client and not target. A run goes:
//
//	lock -> journal run-start -> probe -> preflight gate -> preflight steps
//	-> each member's Preflighter -> per member: [stop gate] steps [post gate]
//	-> finish steps -> run-done -> report -> unlock
//
// The safety invariants of docs/safety.md hold whatever the playbook says:
//
//   - preflight gate: every member reachable and healthy, a leader, no
//     cluster member missing from the inventory, every server on the
//     playbook's `from` minor or already on `to` (exit 5 otherwise);
//   - stop gate, from a fresh probe right before a member's first critical
//     step: every other member healthy (invariant 1);
//   - post gate, after a member's steps: healthy, on `to`, and its applied
//     index at or past the leader's commit index sampled once the member is
//     back, within GateTimeout (invariant 2);
//   - the lock is checked before every critical step.
//
// Order: leader-last is decided again at every member boundary from a
// fresh probe: the first member in inventory order that is not upgraded
// and does not lead now; the leader (whoever it has become) goes last.
// as-listed keeps inventory order. A member found on `to` passes the post
// gate and is done without being stopped. A re-run of a finished upgrade
// skips preflight (it asserts the old version), marks every member done
// and runs finish's read-only checks.
//
// Ctrl-C: the ctx given to Apply is the soft one; critical steps (stop,
// swap, start) run under Options.Hard. The first Ctrl-C lets the critical
// step in flight finish, journals it and `interrupted`, and stops (exit
// 130); non-critical steps are cancelled at once. The second cancels Hard.
//
// Resume reads the journal's last run, refuses changed files (exit 3)
// unless Force, keeps the run id and re-probes. Its one rule: a member on
// `to` is verified by the post gate and never stopped again; any other
// member the run left mid-upgrade goes first and runs its steps again from
// the first, behind the same gates (stopping a stopped member and swapping
// in the binary already in place are no-ops that re-verify). Preflight is
// not repeated once the run reached the members.
//
// Rollback runs the playbook's rollback steps for the failed (or named)
// member while the cluster version is still `from`; after it moved it
// refuses (exit 5) and names the ways back.
//
// State folder, <state-dir>/<cluster>/ (default ./.etcdplay/<cluster>/):
//
//	journal.jsonl       append-only, fsynced after every record
//	run.json            run id, playbook and inventory paths and digests
//	backup.json         the run id and its verified backups' manifests
//	events.jsonl        every event of every run (the -o json lines)
//	report.md, .json    the last run's report (a resumed run: all of it)
//	rollback/report.*   the last rollback's report
//
// Journal records and events come from one call per transition
// (transition.go, run.happen); every failed journal write stops the run,
// and a step whose step-start is not on disk never runs
// (docs/architecture.md, "Journal and events").
//
// The runner never prints: it emits events (see events.Kind: besides
// progress, Info and Record from actions, Gate when a safety gate passes,
// Reconcile when resume compares the journal with the cluster).
package runner
