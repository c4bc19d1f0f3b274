package steps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// CheckV2WAL refuses, before any member stops, a member whose WAL past
// its newest raft snapshot may still hold a request 3.5 wrote: etcd 3.7
// panics replaying one ("unmarshal should never fail (proto: cannot parse
// invalid wire-format data)"), see docs/etcd-behaviour.md.
//
// Why (etcd's source): 3.5 proposes some raft entries as a bare v2
// pb.Request, not wrapped in an InternalRaftRequest: each member's
// publish at start (PUT /0/members/<id>/attributes), the cluster version
// (PUT /0/version), v2 API writes and SYNC. 3.6 still reads them (apply
// falls back to pb.Request when InternalRaftRequest does not parse) but
// never writes one. 3.7 removed that fallback (apply.Apply unmarshals
// every normal entry as InternalRaftRequest, with google.golang.org/
// protobuf, and panics), and on start it re-applies every WAL entry after
// the newest snapshot record, already applied or not.
//
// The rule: a member passes when no WAL file it keeps contains a v2
// request path (v2RequestMarks: a cluster born on 3.6, or one whose 3.5
// WAL files were purged), or when its newest member/snap/*.snap records
// cluster version 3.6.0 in its v2store. The leader sets 3.6.0 only once
// every member runs 3.6, and no 3.6 member writes a v2 request, so such a
// snapshot lies past every entry 3.5 wrote. Both reads are fixed-string
// greps (no wildcard for sudoers), run under sudo as the argv
// MemberPrivileged lists when the login user cannot read the data
// directory.
type CheckV2WAL struct {
	_ byte // no arguments; a zero-size struct would give every step one address
}

// v2RequestMarks are paths only a bare v2 request carries in the WAL: the
// v2store's cluster keys 3.5 writes at every start (publish) and on a
// cluster version change. 3.6 writes the same facts as v3 requests
// (ClusterMemberAttrSet, ClusterVersionSet), which hold no path.
var v2RequestMarks = []string{"/0/members/", "/0/version"}

// v2WALSafeClusterVersion is the cluster version a snapshot must record.
const v2WALSafeClusterVersion = "3.6.0"

// snapVersionMark matches (grep basic regex) the v2store node of
// /0/version with that value, as etcd's v2store JSON (every .snap's
// payload) writes it: ..."ExpireTime":"0001-01-01T00:00:00Z","Value":"3.6.0".
// Each '"' is a '.' (visudo rejects an escaped quote in a command), and
// the version's dots stay unescaped (they match any character, the dot
// too): sudoers reads a backslash-dot in its rule as a plain dot, so the
// rule would not match the argument run.
const snapVersionMark = `ExpireTime.:.0001-01-01T00:00:00Z.,.Value.:.` + v2WALSafeClusterVersion + `.`

func (*CheckV2WAL) Kind() string { return "check-v2-wal" }

func (c *CheckV2WAL) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	if schema.IsNull(n) {
		return
	}
	d.Fields(n, "check-v2-wal", c, func(string, *yaml.Node) {})
}

// CheckContext: it reads every member while all run 3.6, before any stops.
func (c *CheckV2WAL) CheckContext(d *schema.Decoder, sc schema.StepContext) {
	preflightOnly(d, sc, c.Kind())
}

// Bound: per member two greps of the data directory (the WAL files are
// 64 MB each, five kept by default).
func (*CheckV2WAL) Bound() time.Duration { return 5 * time.Minute }

func (c *CheckV2WAL) Plan(*PlanContext) (Plan, error) {
	return Plan{Text: fmt.Sprintf("on every member, refuse a WAL with v2 requests 3.5 wrote unless its newest raft snapshot records cluster version %s (3.7 cannot replay them)", v2WALSafeClusterVersion)}, nil
}

// v2WALOutcome is what the check found on one member.
type v2WALOutcome struct {
	member, dataDir string
	walFiles        []string // WAL files with a v2 request
	snap            string   // newest .snap ("" when none)
	snapSafe        bool     // it records v2WALSafeClusterVersion
}

func (o v2WALOutcome) ok() bool { return len(o.walFiles) == 0 || o.snapSafe }

func (c *CheckV2WAL) Run(ctx context.Context, env *Env) error {
	members, err := targets(env)
	if err != nil {
		return err
	}
	opts := runningOptions(ctx, env)
	outcomes, err := eachMember(members, func(m *schema.MemberConfig) (v2WALOutcome, error) {
		return c.checkMember(ctx, env, m, opts[m.Name])
	})
	if err != nil {
		return err
	}
	var bad []v2WALOutcome
	for i, o := range outcomes {
		env.info("check v2 requests in the WAL", "member", members[i].Name, "data_dir", o.dataDir,
			"wal_files_with_v2", len(o.walFiles), "newest_snapshot", o.snap, "snapshot_after_3_6", o.snapSafe)
		if !o.ok() {
			bad = append(bad, o)
		}
	}
	if len(bad) > 0 {
		return v2WALRefusal(bad)
	}
	return nil
}

func (c *CheckV2WAL) checkMember(ctx context.Context, env *Env, m *schema.MemberConfig, opts map[string]string) (v2WALOutcome, error) {
	dir, err := DataDirOf(m, opts)
	if err != nil {
		return v2WALOutcome{}, err
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return v2WALOutcome{}, err
	}
	readable, err := dataDirReadable(ctx, h, dir)
	if err != nil {
		return v2WALOutcome{}, fmt.Errorf("on %s: %w", m.Name, err)
	}
	grep := "grep"
	if !readable {
		if !sudoOn(m) {
			return v2WALOutcome{}, fmt.Errorf("on %s: the login user cannot read %s/member, so its WAL cannot be checked: log in as etcd's user, or set ssh.sudo: true and allow the lines `etcdplay sudoers` prints", m.Name, dir)
		}
		facts, err := ReadHostFacts(ctx, h, m)
		if err != nil {
			return v2WALOutcome{}, err
		}
		grep = facts.program("grep")
	}
	o := v2WALOutcome{member: m.Name, dataDir: dir}
	walOut, err := grepIn(ctx, h, m, ssh.Command{Argv: v2WALArgv(grep, dir), Privileged: !readable})
	if err != nil {
		return v2WALOutcome{}, err
	}
	for _, l := range strings.Fields(walOut) {
		o.walFiles = append(o.walFiles, path.Base(l))
	}
	if len(o.walFiles) == 0 {
		return o, nil
	}
	snapOut, err := grepIn(ctx, h, m, ssh.Command{Argv: snapVersionArgv(grep, dir), Privileged: !readable})
	if err != nil {
		return v2WALOutcome{}, err
	}
	o.snap, o.snapSafe = newestSnap(snapOut)
	return o, nil
}

// grepIn runs one of the check's greps: exit 0 (found) and 1 (nothing
// found) are answers, anything else (an unreadable or missing folder) an
// error.
func grepIn(ctx context.Context, h Host, m *schema.MemberConfig, cmd ssh.Command) (string, error) {
	res, err := h.Run(ctx, cmd)
	if err != nil {
		return "", fmt.Errorf("on %s: %s: %w", m.Name, cmd, err)
	}
	if res.ExitStatus > 1 {
		return "", fmt.Errorf("on %s: %s exited %d%s", m.Name, cmd, res.ExitStatus, outputTail(res))
	}
	return string(res.Stdout), nil
}

// snapIndex is the raft index in a snapshot file name
// (<term>-<index>.snap, 16 hex digits each); ok is false for other files
// (.snap.db, .broken, temporary files).
func snapIndex(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, ".snap")
	term, index, ok2 := strings.Cut(base, "-")
	if !ok || !ok2 || len(term) != 16 || len(index) != 16 {
		return 0, false
	}
	if _, err := strconv.ParseUint(term, 16, 64); err != nil {
		return 0, false
	}
	i, err := strconv.ParseUint(index, 16, 64)
	return i, err == nil
}

// newestSnap reads snapVersionArgv's "FILE:COUNT" lines: the newest
// snapshot file's name and whether it records v2WALSafeClusterVersion.
func newestSnap(out string) (name string, safe bool) {
	type snap struct {
		name  string
		index uint64
		safe  bool
	}
	var snaps []snap
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		i := strings.LastIndexByte(l, ':')
		if i < 0 {
			continue
		}
		n := path.Base(l[:i])
		idx, ok := snapIndex(n)
		if !ok {
			continue
		}
		snaps = append(snaps, snap{n, idx, strings.TrimSpace(l[i+1:]) != "0"})
	}
	if len(snaps) == 0 {
		return "", false
	}
	s := slices.MaxFunc(snaps, func(a, b snap) int { return cmp.Compare(a.index, b.index) })
	return s.name, s.safe
}

// v2WALRefusal names every member 3.7 could not start and what to do on 3.6.
func v2WALRefusal(bad []v2WALOutcome) error {
	var lines []string
	for _, o := range bad {
		snap := "it has no raft snapshot (member/snap/*.snap)"
		if o.snap != "" {
			snap = "its newest raft snapshot " + o.snap + " predates the cluster version " + v2WALSafeClusterVersion
		}
		lines = append(lines, fmt.Sprintf("member %s (%s): WAL %s holds requests 3.5 wrote and %s",
			o.member, o.dataDir, strings.Join(o.walFiles, ", "), snap))
	}
	return errors.New(strings.Join(lines, "; ") + ". etcd 3.7 cannot replay them and would panic at start " +
		"(\"unmarshal should never fail\"). On 3.6, make each named member take a snapshot: restart it with " +
		"--snapshot-count=1 added (one member at a time, healthy before the next; it snapshots on its first " +
		"applied entry), then remove the flag and restart it again; or keep the cluster serving writes until " +
		"every member has taken one (every --snapshot-count entries, 10000 by default). Then run this playbook again")
}
