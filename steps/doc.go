// Package steps holds etcdplay's action vocabulary: one file per action
// kind with its typed arguments, their strict decoding and validation, and
// the one-line text a plan shows for them.
//
// The kinds are registered from one explicit list (kinds.go), not from
// scattered init functions, so the vocabulary is readable in one place and
// a duplicate name is a panic at start-up.
//
// Running an action is not here yet: a later change adds Run to Action in
// the same files.
package steps
