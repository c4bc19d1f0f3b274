// Package route plans an upgrade over several playbooks: from the
// cluster's live versions to a target release, a patch hop up to each
// floor the next playbook asserts, then each minor in turn, with the exact
// release each hop installs (`etcdplay upgrade --to`, `plan --to`).
//
// The route is data, computed from two inputs only: the catalogue (each
// shipped playbook's from, to and floor, read from the playbooks
// themselves: the floor is the `assert-version: {min: ...}` of a
// playbook's preflight, so a playbook is the one owner of its floor) and
// the inventory's releases. Planning contacts nothing; the runner runs the
// hops (runner.Upgrade). See docs/cli.md "upgrade".
package route
