package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/schema"
)

// The v2 restore's own actions (restore_v2.go): set a data dir aside, the
// seed's one-off --force-new-cluster start, each other member's one-off
// join. Each is safe to run again after a crash: a one-off left running
// is stopped by its pid file first, a member already added is not added
// again.

// V2MemberAPI is the 2.x members API (*etcdprobe.Prober has it), through
// the member the inventory names.
type V2MemberAPI interface {
	V2Members(ctx context.Context, via string) ([]etcdprobe.V2Member, error)
	V2MemberAdd(ctx context.Context, via string, peerURLs []string) (etcdprobe.V2Member, error)
	V2MemberUpdate(ctx context.Context, via, id string, peerURLs []string) error
	V2KeyCount(ctx context.Context, via string) (int, error)
}

func v2API(env *Env) (V2MemberAPI, error) {
	if a, ok := env.Cluster.(V2MemberAPI); ok {
		return a, nil
	}
	return nil, errors.New("this run has no 2.x members API to the cluster")
}

// oneOffStartScript starts etcd in the background, in its own session,
// logging to $1, and writes its pid to $2 (setsid execs, so $! is etcd).
const oneOffStartScript = `log=$1 pidf=$2; shift 2
setsid "$@" >>"$log" 2>&1 </dev/null &
echo $! >"$pidf"
echo $!`

// oneOffStopScript stops the one-off whose pid $1 holds, if it runs, and
// waits up to 30 s for it to exit; then removes the pid file.
const oneOffStopScript = `pidf=$1
[ -f "$pidf" ] || exit 0
p=$(cat "$pidf")
if [ -n "$p" ] && kill "$p" 2>/dev/null; then
  i=0
  while kill -0 "$p" 2>/dev/null; do
    i=$((i+1)); [ "$i" -gt 300 ] && { echo "pid $p did not exit 30 s after SIGTERM" >&2; exit 1; }
    sleep 0.1
  done
fi
rm -f -- "$pidf"`

func pidFile(rm *RestoreMember) string { return rm.DataDir + oneOffSuffix + ".pid" }

func oneOffStart(ctx context.Context, env *Env, h Host, rm *RestoreMember, argv []string) error {
	if err := oneOffStop(ctx, h, rm); err != nil {
		return err
	}
	res, err := shScript(ctx, h, oneOffStartScript, append([]string{rm.Log, pidFile(rm)}, argv...)...)
	if err != nil || res.ExitStatus != 0 {
		return fmt.Errorf("on %s: start %s: exit %d%s%s", rm.Name, shell.Join(argv...), res.ExitStatus, outputTail(res), errSuffix(err))
	}
	env.info("etcd started once outside its service", "member", rm.Name, "pid", strings.TrimSpace(string(res.Stdout)), "log", rm.Log, "argv", shell.Join(argv...))
	return nil
}

func oneOffStop(ctx context.Context, h Host, rm *RestoreMember) error {
	res, err := shScript(ctx, h, oneOffStopScript, pidFile(rm))
	if err != nil || res.ExitStatus != 0 {
		return fmt.Errorf("on %s: stop the one-off etcd (%s): exit %d%s%s", rm.Name, pidFile(rm), res.ExitStatus, outputTail(res), errSuffix(err))
	}
	return nil
}

// waitMember polls until the member answers healthy; a one-off that
// exited ends the wait with its log's tail.
func waitMember(ctx context.Context, env *Env, h Host, rm *RestoreMember, what string) error {
	var last string
	err := poll(ctx, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		m, err := env.Cluster.Member(ctx, rm.Name)
		switch {
		case err != nil:
			last = err.Error()
		case !m.Reachable:
			last = "does not answer: " + m.Error
		case !m.Healthy:
			last = "unhealthy: " + m.HealthError
		default:
			return true, nil
		}
		if res, err := shScript(ctx, h, `[ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null`, pidFile(rm)); err == nil && res.ExitStatus != 0 {
			tail, _ := shScript(ctx, h, `tail -n 5 -- "$1"`, rm.Log)
			return false, fmt.Errorf("on %s the one-off etcd exited; %s ends:\n%s", rm.Name, rm.Log, strings.TrimSpace(string(tail.Stdout)))
		}
		return false, nil
	})
	if err != nil {
		return pollErr(err, fmt.Sprintf("%s: %s %s (log %s on the host)", what, rm.Name, last, rm.Log))
	}
	return nil
}

// RestoreAside sets a stopped v2 member's data dir aside (never deleted)
// and leaves it absent: the member joins with an empty one.
type RestoreAside struct{ restoreAction }

func (*RestoreAside) Kind() string         { return "restore-aside" }
func (*RestoreAside) Bound() time.Duration { return time.Minute }
func (*RestoreAside) Critical() bool       { return true }
func (a *RestoreAside) Plan(*PlanContext) (Plan, error) {
	rm, err := a.P.Member(a.Member)
	if err != nil {
		return Plan{}, err
	}
	if rm.Aside == "" {
		return Plan{Text: "on " + a.Member + ": no data dir to set aside"}, nil
	}
	return Plan{Text: "on " + a.Member + ": " + shell.Join(asideArgv(HostFacts{}, rm)...)}, nil
}

func (a *RestoreAside) Run(ctx context.Context, env *Env) error {
	rm, m, h, err := a.part(env)
	if err != nil {
		return err
	}
	f, err := ReadHostFacts(ctx, h, m, rm.DataDir, cmpOrAside(rm))
	if err != nil {
		return err
	}
	data, aside := f.Files[rm.DataDir], f.Files[cmpOrAside(rm)]
	switch {
	case data.Missing:
		env.info("no data dir left: the member joins with an empty one", "member", m.Name)
	case rm.Aside == "" || !aside.Missing:
		return fmt.Errorf("on %s %s exists and the restore did not expect it there: move it away, then resume", m.Name, rm.DataDir)
	default:
		if err := privileged(ctx, h, m, asideArgv(f, rm)); err != nil {
			return fmt.Errorf("set %s aside on %s: %w", rm.DataDir, m.Name, err)
		}
		env.info("data dir set aside", "member", m.Name, "from", rm.DataDir, "to", rm.Aside)
	}
	return nil
}

// RestoreSeed starts the seed once with --force-new-cluster on its
// restored data dir, waits until it answers healthy as a one-member
// cluster, sets its peer URLs (the members API's update), and stops it.
type RestoreSeed struct{ restoreAction }

func (*RestoreSeed) Kind() string         { return "restore-force-new" }
func (*RestoreSeed) Bound() time.Duration { return 3 * time.Minute }
func (*RestoreSeed) Critical() bool       { return true }
func (a *RestoreSeed) Plan(*PlanContext) (Plan, error) {
	rm, err := a.P.Member(a.Member)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Text: fmt.Sprintf("on %s: %s (background, log %s); wait healthy; members API update peer URLs %s; stop it by pid",
		a.Member, shell.Join(rm.seedOneOff()...), rm.Log, strings.Join(rm.PeerURLs, ","))}, nil
}

func (a *RestoreSeed) Run(ctx context.Context, env *Env) error {
	rm, _, h, err := a.part(env)
	if err != nil {
		return err
	}
	api, err := v2API(env)
	if err != nil {
		return err
	}
	if err := oneOffStart(ctx, env, h, rm, rm.seedOneOff()); err != nil {
		return err
	}
	if err := waitMember(ctx, env, h, rm, "the member started with --force-new-cluster is not healthy"); err != nil {
		return err
	}
	ms, err := api.V2Members(ctx, rm.Name)
	if err != nil {
		return err
	}
	if len(ms) != 1 {
		return fmt.Errorf("on %s, after --force-new-cluster the cluster lists %d members (%v), want 1", rm.Name, len(ms), ms)
	}
	if !slices.Equal(ms[0].PeerURLs, rm.PeerURLs) {
		if err := api.V2MemberUpdate(ctx, rm.Name, ms[0].ID, rm.PeerURLs); err != nil {
			return fmt.Errorf("set the peer URLs of %s to %s: %w", rm.Name, strings.Join(rm.PeerURLs, ","), err)
		}
		env.info("peer URLs set", "member", rm.Name, "from", strings.Join(ms[0].PeerURLs, ","), "to", strings.Join(rm.PeerURLs, ","))
	}
	return oneOffStop(ctx, h, rm)
}

// RestoreJoin adds a v2 member back: the members API's add (unless the
// cluster already lists its peer URLs), a one-off start with an empty
// data dir, --initial-cluster as the cluster lists it and
// --initial-cluster-state existing, a wait until it answers healthy and
// is listed by name, and the one-off stopped.
type RestoreJoin struct{ restoreAction }

func (*RestoreJoin) Kind() string         { return "restore-join" }
func (*RestoreJoin) Bound() time.Duration { return 3 * time.Minute }
func (*RestoreJoin) Critical() bool       { return true }
func (a *RestoreJoin) Plan(*PlanContext) (Plan, error) {
	rm, err := a.P.Member(a.Member)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Text: fmt.Sprintf("through %s: members API add %s; on %s: %s (background, log %s; INITIAL_CLUSTER: the members listed then); wait until it has joined; stop it by pid",
		a.P.Seed, strings.Join(rm.PeerURLs, ","), a.Member, shell.Join(rm.joinOneOff("INITIAL_CLUSTER")...), rm.Log)}, nil
}

func (a *RestoreJoin) Run(ctx context.Context, env *Env) error {
	rm, _, h, err := a.part(env)
	if err != nil {
		return err
	}
	api, err := v2API(env)
	if err != nil {
		return err
	}
	seed, err := a.P.Member(a.P.Seed)
	if err != nil {
		return err
	}
	if err := oneOffStop(ctx, h, rm); err != nil {
		return err
	}
	var ms []etcdprobe.V2Member
	err = poll(ctx, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		m, err := env.Cluster.Member(ctx, seed.Name)
		if err != nil || !m.Healthy {
			return false, nil
		}
		ms, err = api.V2Members(ctx, seed.Name)
		return err == nil, nil
	})
	if err != nil {
		return pollErr(err, "the restored cluster does not answer healthy at "+seed.Name)
	}
	listed := func(ms []etcdprobe.V2Member) *etcdprobe.V2Member {
		for i := range ms {
			if slices.Equal(ms[i].PeerURLs, rm.PeerURLs) {
				return &ms[i]
			}
		}
		return nil
	}
	if listed(ms) == nil {
		added, err := api.V2MemberAdd(ctx, seed.Name, rm.PeerURLs)
		if err != nil {
			return fmt.Errorf("add %s (%s) to the cluster: %w", rm.Name, strings.Join(rm.PeerURLs, ","), err)
		}
		env.info("member added", "member", rm.Name, "id", added.ID, "peer_urls", strings.Join(rm.PeerURLs, ","))
		ms = append(ms, added)
	}
	var ic []string
	for _, m := range ms {
		name := m.Name
		if slices.Equal(m.PeerURLs, rm.PeerURLs) {
			name = rm.EtcdName
		}
		if name == "" {
			return fmt.Errorf("the cluster lists a member with peer URLs %s that has not started: another join is unfinished; look before going on", strings.Join(m.PeerURLs, ","))
		}
		for _, u := range m.PeerURLs {
			ic = append(ic, name+"="+u)
		}
	}
	if err := oneOffStart(ctx, env, h, rm, rm.joinOneOff(strings.Join(ic, ","))); err != nil {
		return err
	}
	if err := waitMember(ctx, env, h, rm, "the member added back is not healthy"); err != nil {
		return err
	}
	err = poll(ctx, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		ms, err := api.V2Members(ctx, seed.Name)
		if err != nil {
			return false, nil
		}
		m := listed(ms)
		return m != nil && m.Name == rm.EtcdName, nil
	})
	if err != nil {
		return pollErr(err, rm.Name+" answers but the cluster does not list it by name")
	}
	env.info("member joined", "member", rm.Name)
	return oneOffStop(ctx, h, rm)
}

// restorePlaybookV2 is the v2 restore as steps: preflight (check, stage
// the seed's backup); then stop every member, put the binary back, restore
// the seed's data dir and set the others' aside, the seed's one-off
// --force-new-cluster start and its service start, each other member's
// join and service start in turn, and the final wait.
func restorePlaybookV2(p *RestorePlan, pb *schema.Playbook) *schema.Playbook {
	step := func(a interface {
		Action
		RestoreMemberName() string
	}) *schema.Step {
		return &schema.Step{Action: a.Kind(), Args: a, Bound: schema.Duration(a.Bound())}
	}
	act := func(m string) restoreAction { return restoreAction{P: p, Member: m} }
	pb.Preflight = append(pb.Preflight, step(&RestoreCheck{act("")}), step(&RestoreStage{act(p.Seed)}))
	for _, m := range p.Members {
		pb.Finish = append(pb.Finish, step(&RestoreStop{act(m.Name)}))
	}
	for _, m := range p.Members {
		pb.Finish = append(pb.Finish, step(&RestoreBinary{act(m.Name)}))
	}
	pb.Finish = append(pb.Finish, step(&RestoreData{act(p.Seed)}))
	for _, m := range p.Members[1:] {
		pb.Finish = append(pb.Finish, step(&RestoreAside{act(m.Name)}))
	}
	pb.Finish = append(pb.Finish, step(&RestoreSeed{act(p.Seed)}), step(&RestoreStart{act(p.Seed)}))
	for _, m := range p.Members[1:] {
		pb.Finish = append(pb.Finish, step(&RestoreJoin{act(m.Name)}), step(&RestoreStart{act(m.Name)}))
	}
	pb.Finish = append(pb.Finish, step(&RestoreWait{act("")}))
	return pb
}
