package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/etcdplay/etcdplay/sandbox/sshserver"
	"github.com/etcdplay/etcdplay/testbed"
)

// ServeOptions are the supervisor's: what Up passes on its command line.
type ServeOptions struct {
	Dir     string
	Version string
	Members int
	SSH     string // openssh or builtin
	Log     io.Writer
}

// Serve is the supervisor, `etcdplay sandbox serve`: it starts the
// cluster through the test bed (taking a slot, whose lock it holds for its
// life), runs the built-in SSH servers when asked, makes the last member
// the leader (so a rolling upgrade visits host1, host2, then host3, as the
// tutorial reads), writes sandbox.json, and then waits. When ctx ends
// (SIGTERM from `sandbox down`) it tears the cluster down by pid and
// checks that nothing is left running or listening.
func Serve(ctx context.Context, o ServeOptions) error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.Log, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
	}
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	id := make([]byte, 3)
	_, _ = rand.Read(id)
	opts := testbed.Options{
		Version: o.Version,
		Members: o.Members,
		Dir:     dir,
		Name:    "sandbox-" + hex.EncodeToString(id),
		Timeout: 2 * time.Minute,
		Logf:    logf,
	}
	if o.SSH == SSHBuiltin {
		u, err := user.Current()
		if err != nil {
			return err
		}
		opts.SSHServer = func(ctx context.Context, h *testbed.Host, clientKey ssh.PublicKey) (ssh.PublicKey, func() error, error) {
			srv, err := sshserver.Start(sshserver.Config{
				Addr:       net.JoinHostPort(h.Addr, strconv.Itoa(h.SSHPort)),
				User:       u.Username,
				Authorized: clientKey,
				Dir:        h.Dir,
				Logf:       logf,
			})
			if err != nil {
				return nil, nil, err
			}
			logf("%s: built-in ssh server on %s, host key %s", h.Name, srv.Addr(), ssh.FingerprintSHA256(srv.HostKey()))
			return srv.HostKey(), srv.Close, nil
		}
	}
	var c *testbed.Cluster
	for attempt := 1; ; attempt++ {
		c, err = testbed.Start(ctx, opts)
		// A cluster of another bed (another user's, or $ETCDPLAY_BED's)
		// does not see our slot locks and may bind a slot's addresses
		// just after we found them free; the next try skips them.
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		logf("addresses taken while starting (%v); trying another slot", err)
		if err := clearRun(dir); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	if c.API == "v3" && len(c.Hosts) > 1 {
		if err := leaderLast(ctx, c); err != nil {
			logf("leadership stays where it is: %v", err)
		}
	}
	st := &State{
		Dir: dir, Cluster: c.Name, Version: c.Version, API: c.API, SSH: o.SSH, User: c.User(),
		Slot: c.Slot, Supervisor: os.Getpid(), Inventory: c.InventoryPath, SSHConfig: c.SSHConfigPath,
	}
	for _, h := range c.Hosts {
		st.Hosts = append(st.Hosts, HostOf{Name: h.Name, Addr: h.Addr, SSHPort: h.SSHPort, Client: h.ClientURL, Dir: h.Dir, SSHDPID: h.SSHDPID()})
	}
	if err := st.write(); err != nil {
		_ = c.Close(context.Background())
		return err
	}
	logf("sandbox %s up: slot %d, inventory %s", c.Name, c.Slot, c.InventoryPath)
	<-ctx.Done()
	logf("stopping: %v", context.Cause(ctx))
	cctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err = c.Close(cctx)
	_ = os.Remove(filepath.Join(dir, stateFile))
	if err != nil {
		logf("teardown: %v", err)
		return err
	}
	logf("stopped: no process left, nothing listening on the sandbox's addresses")
	return nil
}

// leaderLast moves leadership to the last member and waits until it holds.
func leaderLast(ctx context.Context, c *testbed.Cluster) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	last := len(c.Hosts) - 1
	for {
		li, err := c.Leader(ctx)
		if err == nil && li == last {
			return nil
		}
		if err == nil {
			err = moveLeader(ctx, c.Hosts[li].ClientURL, c.Hosts[last].Name)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("move leader to %s: %v (%w)", c.Hosts[last].Name, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// moveLeader asks the leader at leaderURL to hand over to member name.
func moveLeader(ctx context.Context, leaderURL, name string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{leaderURL}, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	ml, err := cli.MemberList(ctx)
	if err != nil {
		return err
	}
	for _, m := range ml.Members {
		if m.Name == name {
			_, err = cli.MoveLeader(ctx, m.ID)
			return err
		}
	}
	return fmt.Errorf("no member %s in the member list", name)
}

// clearRun empties the sandbox folder of a failed start (the bed refuses a
// folder that already holds hosts), keeping the supervisor's own files.
func clearRun(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == pidFile || e.Name() == logFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
