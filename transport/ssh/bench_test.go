package ssh

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
)

// BenchmarkCommandLatency compares one command's round trip through the
// pooled connection with the system ssh client, without and with
// ControlMaster, against a real bed sshd. One op is one `true`; run it as
//
//	go test -bench CommandLatency -benchtime 100x -run '^$' ./transport/ssh
//
// for exactly 100 sequential commands per variant. It needs the bed and
// fails when it is not provisioned.
func BenchmarkCommandLatency(b *testing.B) {
	bed := testbed.StartT(b, testbed.Options{Version: "3.5", Members: 1})
	h := bed.Hosts[0]

	b.Run("pooled", func(b *testing.B) {
		p := NewPool()
		defer p.Close()
		cfg := bedConfig(b, bed, 0)
		c, err := p.Get(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res, err := c.Run(context.Background(), Command{Argv: []string{"true"}})
			if err != nil || res.ExitStatus != 0 {
				b.Fatal(err, res.ExitStatus)
			}
		}
		report(b)
	})

	sshArgs := []string{"-F", bed.SSHConfigPath, "-T"}
	b.Run("ssh", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			systemSSH(b, append(sshArgs, h.Addr, "true")...)
		}
		report(b)
	})

	b.Run("ssh-controlmaster", func(b *testing.B) {
		dir, err := os.MkdirTemp("", "cm") // a short path: socket names are limited to 108 bytes
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
		cm := append(sshArgs, "-o", "ControlMaster=auto", "-o", "ControlPersist=30",
			"-o", "ControlPath="+filepath.Join(dir, "%C"))
		systemSSH(b, append(cm, h.Addr, "true")...) // the master, outside the timing
		defer exec.Command("ssh", append(cm, "-O", "exit", h.Addr)...).Run()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			systemSSH(b, append(cm, h.Addr, "true")...)
		}
		report(b)
	})
}

func systemSSH(b *testing.B, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ssh", args...).CombinedOutput(); err != nil {
		b.Fatalf("ssh %v: %v: %s", args, err, out)
	}
}

func report(b *testing.B) {
	per := float64(b.Elapsed().Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(per, "ms/cmd")
	b.Logf("%d commands, %.2f ms per command", b.N, per)
}
