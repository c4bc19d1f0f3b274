package steps

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
	"gopkg.in/yaml.v3"
)

// The restore's own actions. They are not playbook actions (no playbook
// names them); RestorePlaybook puts them, with ssh-stop and ssh-start, in
// the order docs/restore.md describes, and the runner runs them like any
// step: journaled, bounded, critical where a crash leaves a member to
// re-check. Each is safe to run again after a crash.

// restoreAction is what every restore action shares: the plan, and the
// member it acts on ("" for the whole cluster).
type restoreAction struct {
	P      *RestorePlan
	Member string
}

func (*restoreAction) DecodeArgs(*schema.Decoder, *yaml.Node) {}

// RestoreMemberName is the member a restore step acts on, "" for the whole
// cluster: the runner gives the step that member's configuration.
func (a *restoreAction) RestoreMemberName() string { return a.Member }

func (a *restoreAction) part(env *Env) (*RestoreMember, *schema.MemberConfig, Host, error) {
	m, err := needMember(env, "restore")
	if err != nil {
		return nil, nil, nil, err
	}
	rm, err := a.P.Member(m.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	h, err := hostOf(context.Background(), env, m.Name)
	return rm, m, h, err
}

// RestoreCheck proves, before any member stops, that the restore can run
// to its end: the snapshot on this machine still has the sha256 the plan
// checked, no earlier set-aside is in the way, each host has the restore
// tool on the snapshot's minor and a binary of the version to start on
// (already in place, kept by a swap as .etcdplay-prev, or a listed
// release, staged now), and, with ssh.sudo, sudo allows every exact
// command the restore will run.
type RestoreCheck struct{ restoreAction }

func (*RestoreCheck) Kind() string         { return "restore-check" }
func (*RestoreCheck) Bound() time.Duration { return 5 * time.Minute }
func (a *RestoreCheck) Plan(*PlanContext) (Plan, error) {
	return Plan{Text: fmt.Sprintf("check %s (sha256 %.12s...), each host's restore tool, binary %s and sudo rules; nothing stops", a.P.Backup.File, a.P.Backup.SHA256, a.P.Version)}, nil
}

func (a *RestoreCheck) Run(ctx context.Context, env *Env) error {
	sum, err := FileSHA256(a.P.Backup.File)
	if err != nil {
		return err
	}
	if sum != a.P.Backup.SHA256 {
		return fmt.Errorf("%s has sha256 %s now, the plan checked %s: the file changed", a.P.Backup.File, sum, a.P.Backup.SHA256)
	}
	v := a.P.version()
	for _, im := range env.Inventory.Members {
		m := env.Inventory.Resolve(im)
		rm, err := a.P.Member(m.Name)
		if err != nil {
			return err
		}
		h, err := hostOf(ctx, env, m.Name)
		if err != nil {
			return err
		}
		f, err := ReadHostFacts(ctx, h, &m, rm.DataDir+asideSuffix)
		if err != nil {
			return err
		}
		if o := f.Files[rm.DataDir+asideSuffix]; !o.Missing {
			return fmt.Errorf("on %s, %s exists (an earlier restore's): move it elsewhere, then run again", m.Name, rm.DataDir+asideSuffix)
		}
		if a.P.API == "v2" {
			// tar unpacks the member backup; nothing to check.
		} else if err := checkVersion(ctx, h, m.Name, rm.Restore[0], path.Base(rm.Restore[0]), v, false); err != nil {
			return fmt.Errorf("restore tool: %w (name the %s release's etcdutl in the inventory's releases)", err, v.MinorLine())
		}
		menv := *env
		menv.Member = &m
		if err := checkBinary(ctx, &menv, h, &m, v); err != nil {
			return err
		}
		for _, s := range []Preflighter{&SSHStop{}, &SSHStart{}} {
			if err := s.Preflight(ctx, &menv); err != nil {
				return err
			}
		}
		if sudoOn(&m) {
			if err := checkSudo(ctx, h, &m, restorePrivileged(f, rm)); err != nil {
				return err
			}
		}
	}
	env.info("restore checked on every host", "snapshot", a.P.Backup.File, "version", a.P.Version)
	return nil
}

// checkBinary: m can run etcd v's minor once stopped: its binary already
// does, the binary a swap kept does, or a listed release on that minor is
// staged (the swap's own preflight, as a rollback).
func checkBinary(ctx context.Context, env *Env, h Host, m *schema.MemberConfig, v schema.Version) error {
	if cur, err := binVersion(ctx, h, m.Binary); err == nil && cur.MinorLine() == v.MinorLine() {
		return nil
	}
	if kept, err := binVersion(ctx, h, m.Binary+prevSuffix); err == nil && kept.MinorLine() == v.MinorLine() {
		return nil
	}
	if env.Inventory.ReleaseFor(v.MinorLine()) == nil {
		return fmt.Errorf("on %s neither %s nor %s%s runs etcd %s, and the inventory lists no %s release: add one to releases", m.Name, m.Binary, m.Binary, prevSuffix, v.MinorLine(), v.MinorLine())
	}
	renv := *env
	renv.Phase = schema.PhaseRollback
	return (&Swap{To: v.MinorLine()}).Preflight(ctx, &renv)
}

// RestoreStage uploads the snapshot to one host and checks its sha256
// there, before anything stops.
type RestoreStage struct{ restoreAction }

func (*RestoreStage) Kind() string         { return "restore-stage" }
func (*RestoreStage) Bound() time.Duration { return 10 * time.Minute }
func (a *RestoreStage) Plan(*PlanContext) (Plan, error) {
	rm, err := a.P.Member(a.Member)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Text: fmt.Sprintf("on %s: upload %s to %s, check its sha256 there", a.Member, a.P.Backup.File, rm.Snapshot)}, nil
}

func (a *RestoreStage) Run(ctx context.Context, env *Env) error {
	rm, m, h, err := a.part(env)
	if err != nil {
		return err
	}
	stage := path.Dir(rm.Snapshot)
	res, err := shScript(ctx, h, prepareStageScript, path.Dir(stage), path.Base(stage))
	if err != nil || res.ExitStatus != 0 {
		return fmt.Errorf("staging folder %s on %s: exit %d%s%s (set ssh.stage_dir to a folder the login user owns)", stage, m.Name, res.ExitStatus, outputTail(res), errSuffix(err))
	}
	if sum, err := hostSHA256(ctx, h, rm.Snapshot); err == nil && sum == a.P.Backup.SHA256 {
		env.info("snapshot already staged", "member", m.Name, "file", rm.Snapshot)
		return nil
	}
	if err := h.Upload(ctx, a.P.Backup.File, rm.Snapshot, 0o600); err != nil {
		return fmt.Errorf("upload %s to %s:%s: %w", a.P.Backup.File, m.Name, rm.Snapshot, err)
	}
	sum, err := hostSHA256(ctx, h, rm.Snapshot)
	if err != nil {
		return fmt.Errorf("sha256 of %s on %s: %w", rm.Snapshot, m.Name, err)
	}
	if sum != a.P.Backup.SHA256 {
		return fmt.Errorf("%s on %s has sha256 %s after the upload (expected %s)", rm.Snapshot, m.Name, sum, a.P.Backup.SHA256)
	}
	env.info("snapshot staged and checked", "member", m.Name, "file", rm.Snapshot, "sha256", sum)
	return nil
}

// RestoreBinary puts etcd of the plan's minor in place on a stopped
// member: nothing when the binary already runs it; else the swap of a
// rollback (the kept .etcdplay-prev when it is on that minor, else the
// inventory's release).
type RestoreBinary struct{ restoreAction }

func (*RestoreBinary) Kind() string         { return "restore-binary" }
func (*RestoreBinary) Bound() time.Duration { return 5 * time.Minute }
func (*RestoreBinary) Critical() bool       { return true }
func (a *RestoreBinary) Plan(*PlanContext) (Plan, error) {
	v := a.P.version()
	return Plan{Text: fmt.Sprintf("on %s: etcd %s in place (kept %s when on %s, else the inventory's release)", a.Member, v.MinorLine(), prevSuffix, v.MinorLine())}, nil
}

func (a *RestoreBinary) Run(ctx context.Context, env *Env) error {
	m, err := needMember(env, "restore-binary")
	if err != nil {
		return err
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return err
	}
	v := a.P.version()
	if cur, err := binVersion(ctx, h, m.Binary); err == nil && cur.MinorLine() == v.MinorLine() {
		env.info("binary already on the restore's minor", "member", m.Name, "version", cur.String())
		env.record("version-after", cur.String())
		return nil
	}
	renv := *env
	renv.Phase = schema.PhaseRollback
	return (&Swap{To: v.MinorLine()}).Run(ctx, &renv)
}

// RestoreData replaces a stopped member's data with the snapshot: the data
// dir renamed aside (never deleted), `etcdutl snapshot restore` into the
// login user's staging folder, renamed into place, given to etcd's user.
// Run again after a crash it picks up where the host shows it stopped: a
// data dir already set aside is not moved again, and one holding a WAL
// beside the set-aside copy is the restored one put in place.
type RestoreData struct{ restoreAction }

func (*RestoreData) Kind() string         { return "restore-data" }
func (*RestoreData) Bound() time.Duration { return 10 * time.Minute }
func (*RestoreData) Critical() bool       { return true }
func (a *RestoreData) Plan(c *PlanContext) (Plan, error) {
	rm, err := a.P.Member(a.Member)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Text: "on " + a.Member + ": " + strings.Join(rm.Commands(HostFacts{}), " && ")}, nil
}

// dataStateScript says what is at the data dir and its set-aside: for
// each of $1 (data dir) and $2 (aside) "absent", "wal" (a member with a
// WAL) or "other".
const dataStateScript = `for d in "$1" "$2"; do
  if [ ! -e "$d" ]; then echo absent
  elif [ -d "$d/member/wal" ]; then echo wal
  else echo other; fi
done`

func (a *RestoreData) Run(ctx context.Context, env *Env) error {
	rm, m, h, err := a.part(env)
	if err != nil {
		return err
	}
	f, err := ReadHostFacts(ctx, h, m)
	if err != nil {
		return err
	}
	res, err := shScript(ctx, h, dataStateScript, rm.DataDir, cmpOrAside(rm))
	if err != nil || res.ExitStatus != 0 {
		return fmt.Errorf("look at %s on %s: exit %d%s%s", rm.DataDir, m.Name, res.ExitStatus, outputTail(res), errSuffix(err))
	}
	st := strings.Fields(string(res.Stdout))
	if len(st) != 2 {
		return fmt.Errorf("look at %s on %s: unreadable %q", rm.DataDir, m.Name, clipOut(res.Stdout))
	}
	data, aside := st[0], st[1]
	placed := false
	switch {
	case rm.Aside != "" && aside == "absent" && data != "absent":
		if err := privileged(ctx, h, m, asideArgv(f, rm)); err != nil {
			return fmt.Errorf("set %s aside on %s: %w", rm.DataDir, m.Name, err)
		}
		env.info("data dir set aside", "member", m.Name, "from", rm.DataDir, "to", rm.Aside)
	case rm.Aside != "" && aside == "absent":
		return fmt.Errorf("on %s neither %s nor %s exists: the data dir went away during the restore; look before going on", m.Name, rm.DataDir, rm.Aside)
	case data == "wal":
		// Set aside earlier by this restore (the plan proved no set-aside
		// was there), or gone before it began: a data dir holding a WAL
		// now is the one this restore put in place before it stopped.
		placed = true
	case data != "absent":
		return fmt.Errorf("on %s %s exists but holds no member WAL, and the restore did not put it there: move it away, then resume", m.Name, rm.DataDir)
	}
	if !placed {
		if _, err := runArgs(ctx, h, "rm", "-rf", "--", rm.Output); err != nil {
			return fmt.Errorf("clear %s on %s: %w", rm.Output, m.Name, err)
		}
		// etcdutl makes its output folder itself; tar (v2) extracts into one.
		mk := path.Dir(rm.Output)
		if rm.OneOff != nil {
			mk = rm.Output
		}
		if _, err := runArgs(ctx, h, "mkdir", "-p", "-m", "0700", "--", mk); err != nil {
			return fmt.Errorf("on %s: %w", m.Name, err)
		}
		cmd := ssh.Command{Argv: rm.Restore, Env: rm.Env}
		res, err := h.Run(ctx, cmd)
		if err != nil {
			return fmt.Errorf("on %s: %s: %w", m.Name, cmd, err)
		}
		if res.ExitStatus != 0 {
			return fmt.Errorf("on %s: %s exited %d%s", m.Name, shell.Join(rm.Restore...), res.ExitStatus, outputTail(res))
		}
		if err := syncRemote(ctx, h, rm.Output); err != nil {
			return err
		}
		if err := privileged(ctx, h, m, placeDataArgv(f, rm)); err != nil {
			return fmt.Errorf("put the restored data dir in place on %s: %w", m.Name, err)
		}
	}
	if rm.Owner != "" {
		if err := privileged(ctx, h, m, chownDataArgv(f, rm)); err != nil {
			return fmt.Errorf("give %s to %s on %s: %w", rm.DataDir, rm.Owner, m.Name, err)
		}
	}
	if err := syncRemote(ctx, h, path.Dir(rm.DataDir)); err != nil {
		return err
	}
	env.info("snapshot restored into the data dir", "member", m.Name, "data_dir", rm.DataDir, "name", rm.EtcdName)
	return nil
}

// cmpOrAside is the set-aside path to look at; a member with nothing to
// set aside looks at a path that cannot exist.
func cmpOrAside(rm *RestoreMember) string {
	if rm.Aside != "" {
		return rm.Aside
	}
	return rm.DataDir + asideSuffix
}

// RestoreWait waits until every member answers, healthy, on the plan's
// minor and at least at the snapshot's revision, then counts the keys (a
// snapshot streamed from the leader, read here and removed) for the
// report.
type RestoreWait struct{ restoreAction }

func (*RestoreWait) Kind() string         { return "restore-wait" }
func (*RestoreWait) Bound() time.Duration { return 5 * time.Minute }
func (a *RestoreWait) Plan(*PlanContext) (Plan, error) {
	return Plan{Text: fmt.Sprintf("wait until every member is healthy on %s at revision %d or later, then count the keys", a.P.version().MinorLine(), a.P.Backup.Revision)}, nil
}

func (a *RestoreWait) Run(ctx context.Context, env *Env) error {
	want := a.P.version().MinorLine()
	var last []string
	err := poll(ctx, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		c, err := env.Cluster.Cluster(ctx)
		if err != nil {
			last = []string{err.Error()}
			return false, nil
		}
		last = nil
		for _, im := range env.Inventory.Members {
			mem := c.MemberByName(im.Name)
			switch {
			case mem == nil || !mem.Reachable:
				last = append(last, im.Name+" does not answer")
			case !mem.Healthy:
				last = append(last, im.Name+" unhealthy: "+mem.HealthError)
			case !strings.HasPrefix(mem.Server, want.String()+"."):
				last = append(last, fmt.Sprintf("%s runs %s", im.Name, mem.Server))
			case mem.Revision < a.P.Backup.Revision:
				last = append(last, fmt.Sprintf("%s at revision %d", im.Name, mem.Revision))
			}
		}
		return len(last) == 0, nil
	})
	if err != nil {
		return pollErr(err, fmt.Sprintf("the restored cluster is not healthy on %s at revision %d: %s", want, a.P.Backup.Revision, strings.Join(last, "; ")))
	}
	c, err := env.Cluster.Cluster(ctx)
	if err != nil {
		return err
	}
	if a.P.API == "v2" {
		// 2.x has no snapshot to count keys from: they are listed (a
		// quorum read); the revision is the store's index (X-Etcd-Index).
		l := c.LeaderMember()
		if l == nil {
			return fmt.Errorf("the restored cluster has no leader")
		}
		api, err := v2API(env)
		if err != nil {
			return err
		}
		keys, err := api.V2KeyCount(ctx, l.DisplayName())
		if err != nil {
			return fmt.Errorf("the cluster is healthy, but counting its keys failed: %w", err)
		}
		env.record("keys-after", keys)
		env.record("revision-after", l.Revision)
		env.info("cluster restored", "members", len(c.Members), "keys", keys, "revision", l.Revision)
		return nil
	}
	info, err := countKeys(ctx, env, c)
	if err != nil {
		return fmt.Errorf("the cluster is healthy, but counting its keys failed: %w", err)
	}
	env.record("keys-after", info.Keys)
	env.record("revision-after", info.Revision)
	env.info("cluster restored", "keys", info.Keys, "revision", info.Revision, "snapshot_keys", a.P.Backup.Keys)
	return nil
}

// countKeys streams a snapshot from the leader into a temporary file and
// reads its revision and live keys: the count the report compares with
// the backup's.
func countKeys(ctx context.Context, env *Env, c *etcdprobe.Cluster) (*etcdprobe.SnapshotInfo, error) {
	l := c.LeaderMember()
	if l == nil {
		return nil, fmt.Errorf("no leader")
	}
	dir, err := os.MkdirTemp("", "etcdplay-count-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "snapshot.db")
	if _, _, err := writeStream(p, func(w io.Writer) error {
		_, err := env.Cluster.Snapshot(ctx, l.DisplayName(), w)
		return err
	}); err != nil {
		return nil, err
	}
	return etcdprobe.VerifySnapshot(p)
}

// RestorePlaybook is the restore as steps the runner runs: preflight
// (check, then stage the snapshot on every host) changes nothing the
// cluster depends on; the restore phase stops every member, puts the
// binary back, restores each data dir, starts every member and waits for
// the cluster. Per-member steps name their member (RestoreMemberName).
func RestorePlaybook(p *RestorePlan, inv *schema.Inventory) *schema.Playbook {
	v := p.version().MinorLine()
	pb := &schema.Playbook{Name: "restore " + p.Cluster + " from " + filepath.Base(p.Backup.File), From: v, To: v,
		Members: schema.Members{Order: schema.OrderAsListed}}
	if p.API == "v2" {
		return restorePlaybookV2(p, pb)
	}
	step := func(action string, a schema.Args, b time.Duration) *schema.Step {
		return &schema.Step{Action: action, Args: a, Bound: schema.Duration(b)}
	}
	add := func(list *[]*schema.Step, a interface {
		Action
		RestoreMemberName() string
	}) {
		*list = append(*list, step(a.Kind(), a, a.Bound()))
	}
	add(&pb.Preflight, &RestoreCheck{restoreAction{P: p}})
	for _, m := range inv.Members {
		add(&pb.Preflight, &RestoreStage{restoreAction{P: p, Member: m.Name}})
	}
	for _, m := range inv.Members {
		pb.Finish = append(pb.Finish, step("ssh-stop", &RestoreStop{restoreAction{P: p, Member: m.Name}}, time.Minute))
	}
	for _, m := range inv.Members {
		add(&pb.Finish, &RestoreBinary{restoreAction{P: p, Member: m.Name}})
	}
	for _, m := range inv.Members {
		add(&pb.Finish, &RestoreData{restoreAction{P: p, Member: m.Name}})
	}
	for _, m := range inv.Members {
		pb.Finish = append(pb.Finish, step("ssh-start", &RestoreStart{restoreAction{P: p, Member: m.Name}}, time.Minute))
	}
	add(&pb.Finish, &RestoreWait{restoreAction{P: p}})
	return pb
}

// RestoreStop and RestoreStart are ssh-stop and ssh-start for a named
// member of a restore.
type RestoreStop struct{ restoreAction }

func (*RestoreStop) Kind() string                              { return "ssh-stop" }
func (*RestoreStop) Bound() time.Duration                      { return time.Minute }
func (*RestoreStop) Critical() bool                            { return true }
func (a *RestoreStop) Plan(c *PlanContext) (Plan, error)       { return (&SSHStop{}).Plan(c) }
func (a *RestoreStop) Run(ctx context.Context, env *Env) error { return (&SSHStop{}).Run(ctx, env) }

type RestoreStart struct{ restoreAction }

func (*RestoreStart) Kind() string                              { return "ssh-start" }
func (*RestoreStart) Bound() time.Duration                      { return time.Minute }
func (*RestoreStart) Critical() bool                            { return true }
func (a *RestoreStart) Plan(c *PlanContext) (Plan, error)       { return (&SSHStart{}).Plan(c) }
func (a *RestoreStart) Run(ctx context.Context, env *Env) error { return (&SSHStart{}).Run(ctx, env) }
