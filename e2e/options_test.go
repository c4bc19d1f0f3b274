//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/testbed"
)

// The member.options facts on real clusters: each member's etcd options
// are read over SSH from the running process (docs/production.md, "How
// etcdplay reads each member's options"), and the shipped playbooks refuse
// an option their target removed before any member stops.

// planJSON runs `plan PLAYBOOK -o json` and decodes it.
func planJSON(t *testing.T, o *operator, c *testbed.Cluster, playbook string) *runner.Plan {
	t.Helper()
	out, stderr, code := o.command(testContext(t), "plan", playbook, "-i", c.InventoryPath, "-o", "json")
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s", code, lastLines(stderr, 20))
	}
	var p runner.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan -o json: %v", err)
	}
	if p.Live == nil {
		t.Fatal("plan -o json has no live view")
	}
	return &p
}

// refuseStep is the plan's preflight refuse-options step.
func refuseStep(t *testing.T, p *runner.Plan) runner.StepPlan {
	t.Helper()
	for _, ph := range p.Phases {
		for _, s := range ph.Steps {
			if s.Action == "refuse-options" {
				return s
			}
		}
	}
	t.Fatal("the plan has no refuse-options step")
	return runner.StepPlan{}
}

// TestPreflight_EnableV2_3_5_to_3_6: 3.5 members started with --enable-v2
// (3.6 removed it: a 3.6 etcd with the flag exits at once). The live plan
// says the run would stop at the refuse-options step, naming the member
// and the flag; the run is refused in preflight (exit 5) naming both, and
// no member is stopped.
func TestPreflight_EnableV2_3_5_to_3_6(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.5", ExtraFlags: []string{"--enable-v2"}})
	writeKeys(ctx, t, c, faultKeys)
	o := newOperator(t, c)
	before := pids(c)

	p := planJSON(t, o, c, "3.5-to-3.6")
	s := refuseStep(t, p)
	for _, want := range []string{"the run would stop here", "member " + c.Hosts[0].Name + " runs with enable-v2=true, set by the flag --enable-v2"} {
		if !strings.Contains(s.Check, want) {
			t.Errorf("plan's refuse-options check %q does not say %q", s.Check, want)
		}
	}
	for _, m := range p.Live.Members {
		if m.Options["enable-v2"] != "true" || m.OptionSources["enable-v2"] != "flag" {
			t.Errorf("plan's live view of %s: options %v from %v", m.Name, m.Options, m.OptionSources)
		}
	}

	res := o.etcdplay(ctx, "run", "3.5-to-3.6")
	res.want(t, exitPreflight)
	msg := res.failure()
	for _, h := range c.Hosts {
		if want := "member " + h.Name + " runs with enable-v2=true, set by the flag --enable-v2"; !strings.Contains(msg, want) {
			t.Errorf("refusal does not say %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(msg, "3.6 removed this option") {
		t.Errorf("refusal does not say what to do:\n%s", msg)
	}
	t.Logf("refused: %s", clip(msg, 400))
	requireNothingStopped(t, o, res, before)
	requireKeys(ctx, t, c)
}

// TestPlanShowsOptions_Production: on a production-shaped 3.5 cluster
// (etcd runs as its own user from --config-file; the login user is
// another and cannot read etcd's environment), `plan -o json` shows each
// member's options as the config file sets them, with no unknown part
// (with a config file etcd ignores flags and environment), and the
// refuse-options step holds.
func TestPlanShowsOptions_Production(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c, o, _ := startProductionBed(ctx, t, "3.5", 20)
	p := planJSON(t, o, c, "3.5-to-3.6")
	for i, m := range p.Live.Members {
		h := c.Hosts[i]
		if m.OptionsUnknown != "" {
			t.Errorf("%s: options unknown: %s", m.Name, m.OptionsUnknown)
		}
		for k, want := range map[string]string{"name": h.Name, "config-file": h.ConfigFile, "listen-client-urls": h.ClientURL, "logger": "zap"} {
			if m.Options[k] != want {
				t.Errorf("%s: options[%s] = %q, want %q", m.Name, k, m.Options[k], want)
			}
		}
		if m.OptionSources["name"] != "config-file" || m.OptionSources["config-file"] != "flag" {
			t.Errorf("%s: sources %v", m.Name, m.OptionSources)
		}
	}
	if s := refuseStep(t, p); s.Check != runner.CheckHolds {
		t.Errorf("refuse-options on a clean cluster: %q, want %q", s.Check, runner.CheckHolds)
	}
	b, _ := json.Marshal(p.Live.Members[0].Options)
	t.Logf("%s's options from plan -o json: %s", p.Live.Members[0].Name, clip(string(b), 300))
}

// TestPreflight_DebugInConfigFile_3_4_to_3_5: a production-shaped 3.4
// cluster whose config file sets `debug: true` (3.5 removed it; etcd run
// from a config file drops the key silently, losing the setting). The run
// is refused in preflight (exit 5), naming each member, the key and the
// config file; no member is stopped. The login user reads the file, not
// etcd's environment, which does not count with a config file.
func TestPreflight_DebugInConfigFile_3_4_to_3_5(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.4", Production: true, ExtraFlags: []string{"--debug"}})
	writeKeys(ctx, t, c, 200)
	o := newOperator(t, c)
	before := pids(c)

	res := o.etcdplay(ctx, "run", "3.4-to-3.5")
	res.want(t, exitPreflight)
	msg := res.failure()
	for _, h := range c.Hosts {
		if want := fmt.Sprintf("member %s runs with debug=true, set by the key \"debug\" in the config file %s", h.Name, h.ConfigFile); !strings.Contains(msg, want) {
			t.Errorf("refusal does not say %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(msg, "--log-level") {
		t.Errorf("refusal does not say what to do:\n%s", msg)
	}
	t.Logf("refused: %s", clip(msg, 400))
	requireNothingStopped(t, o, res, before)
}

// TestPreflight_ExperimentalFlags_3_6_to_3_7: 3.6 members started with
// deprecated --experimental-* flags (3.7 removed all of them: a 3.7 etcd
// with one exits at once), one a rename and one a feature gate, the
// boolean set to false (a flag is fatal whatever its value). The run is
// refused in preflight (exit 5) naming each member, flag and the 3.6
// option to use instead, with the member's value; no member is stopped.
func TestPreflight_ExperimentalFlags_3_6_to_3_7(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.6", ExtraFlags: []string{
		"--experimental-compaction-batch-limit=500", "--experimental-initial-corrupt-check=false"}})
	writeKeys(ctx, t, c, faultKeys)
	o := newOperator(t, c)
	before := pids(c)

	res := o.etcdplay(ctx, "run", "3.6-to-3.7")
	res.want(t, exitPreflight)
	msg := res.failure()
	for _, h := range c.Hosts {
		for _, want := range []string{
			"member " + h.Name + " runs with experimental-compaction-batch-limit=500, set by the flag --experimental-compaction-batch-limit (use --compaction-batch-limit=500 instead)",
			"member " + h.Name + " runs with experimental-initial-corrupt-check=false, set by the flag --experimental-initial-corrupt-check (use --feature-gates=InitialCorruptCheck=false instead)",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("refusal does not say %q:\n%s", want, msg)
			}
		}
	}
	if !strings.Contains(msg, "3.7 removed every --experimental-* option") {
		t.Errorf("refusal does not say what to do:\n%s", msg)
	}
	t.Logf("refused: %s", clip(msg, 500))
	requireNothingStopped(t, o, res, before)
	requireKeys(ctx, t, c)
}
