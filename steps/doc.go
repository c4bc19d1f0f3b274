// Package steps holds etcdplay's action vocabulary: one file per action
// kind with its typed arguments, their strict decoding and validation, the
// one-line text a plan shows for them, and Run, which does what the
// guide's sentence means and then checks its own effect.
//
// The kinds are registered from one explicit list (kinds.go), not from
// scattered init functions, so the vocabulary is readable in one place and
// a duplicate name is a panic at start-up.
//
// Running follows a few rules, so every action behaves alike under the
// runner:
//
//   - env.go is the contract: an action touches the cluster only through
//     Env.Cluster (the probe) and Env.Hosts (SSH), and reports through
//     Env.Log and Env.Record.
//   - Every wait is bounded by ctx: the runner puts each attempt's bound on
//     it (schema.Step.Bound: the step's timeout, else the action's Bound),
//     so actions keep no clock of their own. Polls are short (0.2-0.5 s)
//     and fail fast on evidence (ssh-start stops when the service's status
//     says etcd died).
//   - Success needs proof the action did not produce itself: a closed port
//     and a status command after a stop, the binary's own --version after a
//     swap, a hash and a revision for a backup.
//   - Errors say what was observed and what was expected, in lower case;
//     the runner adds the member and the step.
//   - Remote commands are argv (every word quoted). Scripts are etcdplay's
//     own fixed text with values passed as positional parameters, or text
//     the operator wrote (service commands, ssh-run).
package steps
