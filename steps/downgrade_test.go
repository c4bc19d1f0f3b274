package steps

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
)

// downgradeCluster is a Cluster whose members report a downgrade state
// that the Downgrade RPC changes, as etcd 3.6 does.
type downgradeCluster struct {
	clusterView
	calls []etcdprobe.DowngradeAction
	err   error // what the next Downgrade returns
}

func (f *downgradeCluster) Downgrade(_ context.Context, a etcdprobe.DowngradeAction, target string) (string, error) {
	f.calls = append(f.calls, a)
	if f.err != nil {
		return "", f.err
	}
	for i := range f.c.Members {
		m := &f.c.Members[i]
		switch a {
		case etcdprobe.DowngradeEnable:
			m.Downgrade = etcdprobe.DowngradeInfo{Enabled: true, Target: target + ".0"}
		case etcdprobe.DowngradeCancel:
			m.Downgrade = etcdprobe.DowngradeInfo{}
		}
	}
	return f.c.Version, nil
}

func (f *downgradeCluster) Cluster(context.Context) (*etcdprobe.Cluster, error) { return f.c, nil }

func cluster36(version string, enabled bool) *etcdprobe.Cluster {
	c := &etcdprobe.Cluster{API: "v3", Version: version}
	for _, n := range []string{"a", "b", "c"} {
		m := etcdprobe.Member{Name: n, Endpoint: n, Reachable: true, Healthy: true, Server: "3.6.16"}
		if enabled {
			m.Downgrade = etcdprobe.DowngradeInfo{Enabled: true, Target: "3.5.0"}
		}
		c.Members = append(c.Members, m)
	}
	return c
}

func downgradeEnv(f *downgradeCluster) *Env {
	return &Env{Playbook: &schema.Playbook{From: schema.Minor{Major: 3, Minor: 6}, To: schema.Minor{Major: 3, Minor: 5}}, Cluster: f}
}

// TestDowngradeEnableOnce: enable sends the request once; a later member
// (or a resumed run) finds the downgrade enabled and sends nothing; a
// cluster already on the target with no downgrade enabled (cancelled
// while a member ran it) is refused with what to do.
func TestDowngradeEnableOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	enable := &Downgrade{Action: "enable"}

	f := &downgradeCluster{clusterView: clusterView{cluster36("3.6.0", false)}}
	if err := enable.Run(ctx, downgradeEnv(f)); err != nil {
		t.Fatalf("enable: %v", err)
	}
	if err := enable.Run(ctx, downgradeEnv(f)); err != nil {
		t.Fatalf("enable again: %v", err)
	}
	if fmt.Sprint(f.calls) != "[enable]" {
		t.Errorf("requests sent: %v; want one enable", f.calls)
	}

	f = &downgradeCluster{clusterView: clusterView{cluster36("3.5.0", false)}}
	err := enable.Run(ctx, downgradeEnv(f))
	if err == nil || !strings.Contains(err.Error(), "etcdplay rollback") || len(f.calls) != 0 {
		t.Errorf("enable on a cancelled half-way cluster: err %v, calls %v; want a refusal naming etcdplay rollback and no request", err, f.calls)
	}
}

// TestDowngradeCancel: cancel ends once no member reports a downgrade,
// and nothing in flight is not an error (a repeated rollback).
func TestDowngradeCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &Downgrade{Action: "cancel"}
	f := &downgradeCluster{clusterView: clusterView{cluster36("3.5.0", true)}}
	if err := c.Run(ctx, downgradeEnv(f)); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	for _, m := range f.c.Members {
		if m.Downgrade.Enabled {
			t.Errorf("%s still reports a downgrade", m.Name)
		}
	}
	f.err = fmt.Errorf("downgrade cancel on a: %w", etcdprobe.ErrNoDowngrade)
	if err := c.Run(ctx, downgradeEnv(f)); err != nil {
		t.Errorf("cancel with none in flight: %v; want nothing to do", err)
	}
}

// TestDowngradeValidateInProgress: validate finding a downgrade enabled
// names resume and rollback.
func TestDowngradeValidateInProgress(t *testing.T) {
	f := &downgradeCluster{clusterView: clusterView{cluster36("3.5.0", true)},
		err: fmt.Errorf("downgrade validate 3.5: %w", etcdprobe.ErrDowngradeInProgress)}
	err := (&Downgrade{Action: "validate"}).Run(context.Background(), downgradeEnv(f))
	if err == nil || !strings.Contains(err.Error(), "etcdplay resume") || !strings.Contains(err.Error(), "etcdplay rollback") {
		t.Errorf("validate during a downgrade: %v; want resume and rollback named", err)
	}
}

// TestDowngradeWhereItBelongs: the loader refuses validate/enable in an
// upgrade playbook, enable where it would change a cluster before the
// preflight passed, a version other than the playbook's to, and a
// version on cancel.
func TestDowngradeWhereItBelongs(t *testing.T) {
	pb := func(from, to, preflight, members string) string {
		return fmt.Sprintf("playbook: t\nfrom: %q\nto: %q\npreflight:\n  - %s\nmembers:\n  steps:\n    - %s\n", from, to, preflight, members)
	}
	tests := []struct{ name, src, want string }{
		{"ok", pb("3.6", "3.5", "downgrade: {action: validate}", "downgrade: {action: enable}"), ""},
		{"upgrade", pb("3.5", "3.6", "downgrade: {action: validate}", "ssh-stop: {}"), "downgrade validate in a playbook that goes up"},
		{"enable in preflight", pb("3.6", "3.5", "downgrade: {action: enable}", "ssh-stop: {}"), "cannot run in preflight"},
		{"other target", pb("3.6", "3.5", `downgrade: {action: validate, version: "3.4"}`, "ssh-stop: {}"), "targets 3.4, but the playbook downgrades to 3.5"},
		{"cancel with version", pb("3.6", "3.5", `downgrade: {action: cancel, version: "3.5"}`, "ssh-stop: {}"), "cancel takes no version"},
		{"no action", pb("3.6", "3.5", `downgrade: {}`, "ssh-stop: {}"), `missing required key "action"`},
	}
	for _, tt := range tests {
		_, err := schema.LoadPlaybook("pb.yaml", []byte(tt.src), Default())
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err %v; want %q", tt.name, err, tt.want)
		}
	}
}
