package target

import (
	"context"
	"strconv"
	"strings"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// v2SizeScript prints the rough data size of a 2.x member the way the 2.x
// guides measure it ("check the size of the existing snapshot"): the size
// of its newest snapshot file, or, before the first snapshot (a young
// cluster: fewer than --snapshot-count entries), the size of its WAL files,
// an upper bound. The data dir is $1; 2.0.1+ keep snap/ and wal/ under
// member/.
const v2SizeScript = `d=$1
[ -d "$d/member" ] && d=$d/member
f=$(ls -1t "$d"/snap/*.snap 2>/dev/null | head -n 1)
if [ -n "$f" ]; then wc -c <"$f"; exit; fi
n=0
for w in "$d"/wal/*.wal; do [ -f "$w" ] && n=$((n + $(wc -c <"$w"))); done
echo "$n"`

// measureV2Sizes: the v2 HTTP API exposes no backend size, so with
// Options.V2DataSize each member's data size is measured over SSH, and the
// 2.x guides' 50 MB and 100 MB rules (cluster.dbSize in the shipped
// playbooks) see a real number instead of 0. A member whose size cannot be
// read keeps 0, and its Error says why.
func (t *Target) measureV2Sizes(ctx context.Context, c *etcdprobe.Cluster) {
	for i := range c.Members {
		m := &c.Members[i]
		cfg, ok := t.members[m.Endpoint]
		if !ok || cfg.DataDir == "" {
			continue
		}
		size, serr := t.v2Size(ctx, cfg)
		if serr != nil {
			if m.Error == "" {
				m.Error = "data size over ssh: " + serr.Error()
			}
			continue
		}
		m.DBSize = size
		if size > c.DBSize {
			c.DBSize = size
		}
	}
}

func (t *Target) v2Size(ctx context.Context, m schema.MemberConfig) (int64, error) {
	h, err := t.Host(ctx, m.Name)
	if err != nil {
		return 0, err
	}
	res, err := h.Run(ctx, ssh.Command{Argv: []string{"sh", "-c", v2SizeScript, "etcdplay", m.DataDir}})
	if err != nil {
		return 0, err
	}
	if res.ExitStatus != 0 {
		return 0, &exitError{status: res.ExitStatus, stderr: strings.TrimSpace(string(res.Stderr))}
	}
	return strconv.ParseInt(strings.TrimSpace(string(res.Stdout)), 10, 64)
}

type exitError struct {
	status int
	stderr string
}

func (e *exitError) Error() string {
	return "exit " + strconv.Itoa(e.status) + ": " + e.stderr
}
