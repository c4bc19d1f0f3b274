package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/etcdplay/etcdplay/schema"
)

// replaceAll puts each replacement in place in one round trip (a batch):
// install every src beside its dst as dst.etcdplay-new with dst's owner
// and mode, sync those files (unless preflight did: prepareSwap), then for each keep dst as
// dst.etcdplay-prev (when it exists) and rename the new file over it,
// sync the folders (the renames), and print each dst's version. Every
// version must then be the one wanted (etcd exactly, etcdctl on its
// minor). A failure, or a wrong version, puts back what the batch changed
// (the kept binaries renamed back, the installs removed) in one more round
// trip, and the error says so. It returns the version etcd prints after,
// or the first replacement's when etcd is not among them.
func replaceAll(ctx context.Context, h Host, m *schema.MemberConfig, f HostFacts, rs []replacement) (schema.Version, error) {
	sudo := sudoOn(m)
	var cmds []batchCmd
	type at struct{ keep, place, version int }
	idx := make([]at, len(rs))
	var news, dirs []string
	for _, r := range rs {
		if !r.prepared { // else preflight installed and synced it
			cmds = append(cmds, batchCmd{argv: installArgv(f, sudo, r.src, r.dst), privileged: true})
			news = append(news, r.dst+newSuffix)
		}
		if d := path.Dir(r.dst); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	if len(news) > 0 {
		cmds = append(cmds, batchCmd{argv: syncArgv(news)})
	}
	for i, r := range rs {
		idx[i].keep = -1
		if r.exists {
			idx[i].keep = len(cmds)
			cmds = append(cmds, batchCmd{argv: keepArgv(f, r.dst), privileged: true})
		}
		idx[i].place = len(cmds)
		cmds = append(cmds, batchCmd{argv: placeArgv(f, r.dst), privileged: true})
	}
	cmds = append(cmds, batchCmd{argv: syncArgv(dirs)})
	for i, r := range rs {
		idx[i].version = len(cmds)
		cmds = append(cmds, batchCmd{argv: binVersionArgv(r.dst), mayFail: true})
	}

	res, err := runBatch(ctx, h, m, cmds)
	for _, r := range rs {
		forget(h, r.dst) // placed, put back or in doubt: a retry installs anew
	}
	if err != nil {
		return schema.Version{}, fmt.Errorf("swap on %s: %w (the binaries may be half swapped: `etcdplay resume` re-checks them)", m.Name, err)
	}
	ok := func(i int) bool { return i >= 0 && res[i].Ran && res[i].Status == 0 }
	// undo puts back what the batch did: a kept binary renamed back (over
	// the new one when it was placed), an install not placed removed.
	undo := func() error {
		var back []batchCmd
		for i, r := range rs {
			if r.exists && (ok(idx[i].keep) || ok(idx[i].place)) {
				back = append(back, batchCmd{argv: restoreArgv(f, r.dst), privileged: true, mayFail: true})
			}
			if !ok(idx[i].place) {
				back = append(back, batchCmd{argv: discardArgv(f, r.dst), privileged: true, mayFail: true})
			}
		}
		if len(back) == 0 {
			return nil
		}
		got, err := runBatch(ctx, h, m, back)
		if err != nil {
			return err
		}
		var errs []error
		for i, g := range got {
			if g.Status != 0 {
				errs = append(errs, batchErr(back[i], g))
			}
		}
		return errors.Join(errs...)
	}
	if k := failed(cmds, res); k >= 0 {
		err := batchErr(cmds[k], res[k])
		// The folder sync comes after every rename: the swap is done but
		// not proven durable, as a sync failing alone always was.
		if k == len(cmds)-len(rs)-1 {
			return schema.Version{}, fmt.Errorf("on %s: %w", m.Name, err)
		}
		if uerr := undo(); uerr != nil {
			return schema.Version{}, fmt.Errorf("swap on %s: %w; putting the previous binaries back failed too: %v", m.Name, err, uerr)
		}
		return schema.Version{}, fmt.Errorf("swap on %s: %w; nothing was changed (the previous binaries are in place)", m.Name, err)
	}
	var after schema.Version
	for i, r := range rs {
		v, err := batchVersion(r.dst, res[idx[i].version])
		if i == 0 {
			after = v
		}
		if err == nil && (v == r.want || (!r.exact && v.MinorLine() == r.want.MinorLine())) {
			continue
		}
		got := "an unreadable version"
		if err == nil {
			got = r.tool + " " + v.String()
		}
		what := fmt.Sprintf("%s on %s prints %s after the swap (expected %s)", r.dst, m.Name, got, r.want)
		if uerr := undo(); uerr != nil {
			return schema.Version{}, fmt.Errorf("%s, and restoring %s failed: %v", what, strings.Join(dsts(rs), ", "), uerr)
		}
		return schema.Version{}, fmt.Errorf("%s; the previous binary is back in place", what)
	}
	return after, nil
}

// dsts are the binaries rs replace.
func dsts(rs []replacement) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.dst+prevSuffix)
	}
	return out
}

// syncArgv makes files and folders durable on the host, as the login
// user: `sync PATH...` fsyncs each (a file's data, a folder's entries
// after a rename), falling back to syncing their filesystem, then
// everything, where sync takes no paths or a file is not readable.
func syncArgv(paths []string) []string {
	return append([]string{"sh", "-c", `sync "$@" 2>/dev/null || sync -f "$@" 2>/dev/null || sync`, "etcdplay"}, paths...)
}

// binVersionArgv prints a tool's version (binVersionScript).
func binVersionArgv(path string) []string {
	return []string{"sh", "-c", binVersionScript, "etcdplay", path}
}
