package steps

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// A batch runs several exact commands on one host in one round trip, in
// order, stopping at the first that fails: what a swap does while its
// member is down costs one round trip instead of one per command
// (docs/performance.md). Each command is still one program with its
// arguments, every word quoted as the transport quotes an Argv; a
// privileged one runs as `sudo -n PROGRAM ARGS...`, exactly the line
// privileged.go builds and `etcdplay sudoers` prints, from a shell that
// runs as the login user. Nothing runs as root that would not run alone.

// batchCmd is one command of a batch.
type batchCmd struct {
	argv       []string
	privileged bool // under sudo -n when the member's ssh.sudo says so
	mayFail    bool // a failure does not stop the batch (the caller judges it)
}

// batchResult is what one command of a batch left: its exit status and
// what it printed (stdout and stderr together). Ran is false for the
// commands after the one that stopped the batch.
type batchResult struct {
	Ran    bool
	Status int
	Output []byte
}

// failed is the index of the command that stopped the batch, -1 when none
// did.
func failed(cmds []batchCmd, rs []batchResult) int {
	for i, r := range rs {
		if r.Ran && r.Status != 0 && !cmds[i].mayFail {
			return i
		}
	}
	return -1
}

// runBatch runs cmds on h in one session. The error is a transport
// failure; a command's non-zero exit is in its result.
func runBatch(ctx context.Context, h Host, m *schema.MemberConfig, cmds []batchCmd) ([]batchResult, error) {
	var nonce [8]byte
	rand.Read(nonce[:])
	mark := "etcdplay-batch-" + hex.EncodeToString(nonce[:])
	var b strings.Builder
	for i, c := range cmds {
		line := shell.Join(c.argv...)
		if c.privileged && sudoOn(m) {
			line = "sudo -n " + line
		}
		fmt.Fprintf(&b, "o=$(%s 2>&1 </dev/null); s=$?\nprintf '%%s %d %%d\\n' %s \"$s\"\n[ -z \"$o\" ] || printf '%%s\\n' \"$o\"\n",
			line, i, mark)
		if !c.mayFail {
			b.WriteString("[ \"$s\" -eq 0 ] || exit 0\n")
		}
	}
	res, err := h.Run(ctx, ssh.Command{Script: b.String()})
	if err != nil {
		return nil, err
	}
	out := make([]batchResult, len(cmds))
	cur := -1
	for _, line := range bytes.SplitAfter(res.Stdout, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(mark+" ")); ok {
			f := strings.Fields(string(rest))
			if len(f) == 2 {
				i, err1 := strconv.Atoi(f[0])
				s, err2 := strconv.Atoi(f[1])
				if err1 == nil && err2 == nil && i >= 0 && i < len(cmds) {
					cur = i
					out[i] = batchResult{Ran: true, Status: s}
					continue
				}
			}
		}
		if cur >= 0 {
			out[cur].Output = append(out[cur].Output, line...)
		}
	}
	if res.ExitStatus != 0 {
		return out, fmt.Errorf("batch of %d commands exited %d%s", len(cmds), res.ExitStatus, outputTail(res))
	}
	return out, nil
}

// batchErr says what a failed command of a batch was and printed.
func batchErr(c batchCmd, r batchResult) error {
	return fmt.Errorf("%s exited %d%s", ssh.Command{Argv: c.argv}, r.Status, outputTail(ssh.Result{Stdout: r.Output}))
}
