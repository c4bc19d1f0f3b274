package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/target"
)

// sshLogin is one host's `status --ssh` line: logged in (through every
// jump host, host keys checked strictly) or why not.
type sshLogin struct {
	Member string        `json:"member"`
	Host   string        `json:"host"`
	OK     bool          `json:"ok"`
	Error  string        `json:"error,omitempty"`
	Took   time.Duration `json:"took_ns"`
}

// statusSSH logs in to every member's host in parallel, runs nothing, and
// reports each; exit 4 when any login failed, naming the first in the
// error's first line.
func statusSSH(ctx context.Context, w io.Writer, json bool, inv *schema.Inventory, tgt *target.Target) error {
	out := make([]sshLogin, len(inv.Members))
	var wg sync.WaitGroup
	for i, m := range inv.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			l := sshLogin{Member: m.Name, Host: m.Host}
			if _, err := tgt.Host(ctx, m.Name); err != nil {
				l.Error = err.Error()
			} else {
				l.OK = true
			}
			l.Took = time.Since(start)
			out[i] = l
		}()
	}
	wg.Wait()
	if json {
		if err := writeJSON(w, map[string]any{"inventory": inv.Cluster, "ssh": out}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tHOST\tSSH\tTOOK")
		for _, l := range out {
			state := "ok"
			if !l.OK {
				state = "FAILED"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Member, l.Host, state, l.Took.Round(time.Millisecond))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var failed []string
	var first error
	for _, l := range out {
		if !l.OK {
			failed = append(failed, l.Member+": "+l.Error)
			if first == nil {
				first = fmt.Errorf("%s", l.Error)
			}
		}
	}
	if len(failed) > 0 {
		return exit.New(exit.Unreachable, fmt.Errorf("ssh login failed on %d of %d hosts: %s", len(failed), len(out), strings.Join(failed, "; ")), exit.Hint(first))
	}
	return nil
}
