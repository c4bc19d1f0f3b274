package steps

import (
	"context"
	"fmt"
	"sync"

	"github.com/etcdplay/etcdplay/schema"
)

// A swap's install is the slow part of it: copying a 25-40 MB binary and
// syncing it took 50-700 ms per file on the test bed under load, and
// longer on a slow disk. So preflight, before any member stops, installs
// each release file beside the member's binary as <binary>.etcdplay-new
// with the binary's owner and mode, syncs it and checks its version; the
// swap, while the member is down, then only renames it into place and
// checks the version again (docs/performance.md). The running etcd never
// reads the .etcdplay-new file. A refused run removes it (Cleanup); a
// swap that does not find the copy this process installed installs from
// the staged release as before.

// prepared remembers, for this process, which copies preflight installed
// and checked: host and destination to the release file copied.
var prepared sync.Map // preparedKey -> string (src)

type preparedKey struct {
	h   Host
	dst string
}

// prepareSwap installs files (etcd, and etcdctl when the member names one
// that is not on the target minor yet) beside their binaries in one round
// trip and checks the etcd copy prints want.
func prepareSwap(ctx context.Context, h Host, m *schema.MemberConfig, f HostFacts, files []stagedFile, want schema.Version) error {
	type one struct{ src, dst string }
	var todo []one
	for _, sf := range files {
		switch {
		case sf.tool == "etcd":
			todo = append(todo, one{sf.remote, m.Binary})
		case sf.tool == "etcdctl" && m.Etcdctl != "":
			if v, err := binVersion(ctx, h, m.Etcdctl); err == nil && v.MinorLine() == want.MinorLine() {
				continue // the swap leaves it alone
			}
			todo = append(todo, one{sf.remote, m.Etcdctl})
		}
	}
	if len(todo) == 0 {
		return nil
	}
	var cmds []batchCmd
	var news []string
	for _, t := range todo {
		cmds = append(cmds, batchCmd{argv: installArgv(f, sudoOn(m), t.src, t.dst), privileged: true})
		news = append(news, t.dst+newSuffix)
	}
	cmds = append(cmds, batchCmd{argv: syncArgv(news)}, batchCmd{argv: binVersionArgv(todo[0].dst + newSuffix), mayFail: true})
	res, err := runBatch(ctx, h, m, cmds)
	if err != nil {
		return fmt.Errorf("install the release beside %s on %s: %w", m.Binary, m.Name, err)
	}
	if k := failed(cmds, res); k >= 0 {
		unprepareFiles(ctx, h, m, f, news)
		return fmt.Errorf("install the release beside %s on %s: %w", m.Binary, m.Name, batchErr(cmds[k], res[k]))
	}
	if v, err := batchVersion(news[0], res[len(cmds)-1]); err != nil || v != want {
		unprepareFiles(ctx, h, m, f, news)
		return fmt.Errorf("%s on %s prints %v (err %v), expected etcd %s", news[0], m.Name, v, err, want)
	}
	for _, t := range todo {
		prepared.Store(preparedKey{h, t.dst}, t.src)
	}
	return nil
}

// isPrepared: this process's preflight installed src as dst.etcdplay-new
// and the file is still there (f stat'ed it).
func isPrepared(h Host, f HostFacts, src, dst string) bool {
	got, ok := prepared.Load(preparedKey{h, dst})
	if !ok || got.(string) != src {
		return false
	}
	o, ok := f.Files[dst+newSuffix]
	return ok && !o.Missing
}

// preparedDst: this process's preflight installed a copy of dst (whether
// it is still there, isPrepared says).
func preparedDst(h Host, dst string) bool {
	_, ok := prepared.Load(preparedKey{h, dst})
	return ok
}

// forget: the copy of dst was placed or removed.
func forget(h Host, dst string) { prepared.Delete(preparedKey{h, dst}) }

// unprepare removes the copies preflight installed beside m's binaries.
func unprepare(ctx context.Context, h Host, m *schema.MemberConfig, f HostFacts) {
	var news []string
	for _, dst := range []string{m.Binary, m.Etcdctl} {
		if _, ok := prepared.Load(preparedKey{h, dst}); ok && dst != "" {
			news = append(news, dst+newSuffix)
			forget(h, dst)
		}
	}
	unprepareFiles(ctx, h, m, f, news)
}

// unprepareFiles removes installed copies (paths ending in .etcdplay-new)
// in one round trip, under sudo where installs ran under it.
func unprepareFiles(ctx context.Context, h Host, m *schema.MemberConfig, f HostFacts, news []string) {
	var cmds []batchCmd
	for _, n := range news {
		cmds = append(cmds, batchCmd{argv: discardArgv(f, n[:len(n)-len(newSuffix)]), privileged: true, mayFail: true})
	}
	if len(cmds) > 0 {
		runBatch(ctx, h, m, cmds)
	}
}
