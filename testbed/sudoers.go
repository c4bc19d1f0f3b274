package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// The sudo rules of a production-shaped cluster: one file per slot in
// /etc/sudoers.d, written from Options.SudoRules or DefaultSudoRules,
// replaced by SetSudoRules, removed by Close or by the slot's next owner.

// sudoersPath is where slot k's sudo rules live while its cluster runs.
// The name has no dot, or sudo's @includedir would skip it.
func sudoersPath(k int) string { return fmt.Sprintf("/etc/sudoers.d/etcdplay-bed-%d", k) }

// DefaultSudoRules are the sudoers lines a production-shaped cluster
// grants LoginUser when Options.SudoRules is nil, in the shape of the
// commands etcdplay runs (docs/production.md): for every host, its
// service script's start, stop and status, and for etcd and etcdctl in
// its binary folder: install -o root -g root -m 0755 -- of a file from the
// host's staging folder or the release cache (Dir()/bin) as
// <file>.etcdplay-new, mv -f to keep, place and restore the file, rm -f
// of an unplaced install, etcdutl check v2store and check-v2-wal's greps of its data dir. Unlike `etcdplay sudoers`, the sources are
// wildcards, so the rules outlive a new release in versions.txt. Nothing
// else: `sudo -n true` is refused. Tests of etcdplay's exact commands
// install what `etcdplay sudoers` prints instead (SetSudoRules).
func (c *Cluster) DefaultSudoRules() []string {
	var cmnds []string
	for _, h := range c.Hosts {
		for _, verb := range []string{"start", "stop", "status"} {
			cmnds = append(cmnds, h.Service+" "+verb)
		}
		// check-v2store's etcdutl, from the release cache, on the data dir.
		cmnds = append(cmnds, filepath.Join(Dir(), "bin", "*", "etcdutl")+" check v2store --data-dir="+h.DataDir)
		// check-v2-wal's two greps of the data dir (steps/privileged.go).
		cmnds = append(cmnds,
			"/usr/bin/grep -r -l -a -F -e /0/members/ -e /0/version -- "+h.DataDir+"/member/wal",
			`/usr/bin/grep -r -c -a --exclude\=db -e ExpireTime.\:.0001-01-01T00\:00\:00Z.\,.Value.\:.3.6.0. -- `+h.DataDir+"/member/snap")
		for _, f := range []string{h.Binary(), h.Etcdctl()} {
			cmnds = append(cmnds,
				"/usr/bin/install -o root -g root -m 0755 -- "+filepath.Join(h.StageDir, "*")+" "+f+".etcdplay-new",
				"/usr/bin/install -o root -g root -m 0755 -- "+filepath.Join(Dir(), "bin", "*")+" "+f+".etcdplay-new",
				"/usr/bin/mv -f -- "+f+" "+f+".etcdplay-prev",
				"/usr/bin/mv -f -- "+f+".etcdplay-new "+f,
				"/usr/bin/mv -f -- "+f+".etcdplay-prev "+f,
				"/usr/bin/rm -f -- "+f+".etcdplay-new",
			)
		}
	}
	alias := "ETCDPLAY_BED" // writeSudoers makes it unique to the slot
	return []string{
		"Cmnd_Alias " + alias + " = " + strings.Join(cmnds, ", \\\n    "),
		LoginUser + " ALL=(root) NOPASSWD: " + alias,
	}
}

// writeSudoers installs the cluster's sudo rules as sudoersPath(slot):
// aliases made unique to the slot (slotAliases), written beside it under a
// name sudo ignores, checked with visudo -cf (a broken file in sudoers.d
// breaks sudo for everyone), 0440, then renamed into place.
func (c *Cluster) writeSudoers(ctx context.Context, rules []string) error {
	if rules == nil {
		rules = c.DefaultSudoRules()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# sudo rules of the etcdplay test bed cluster %s (slot %d, %s); removed when it closes\n", c.Name, c.Slot, c.Dir)
	for _, r := range slotAliases(rules, c.Slot) {
		b.WriteString(r + "\n")
	}
	path := sudoersPath(c.Slot)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o440); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o440); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "visudo", "-cf", tmp).CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sudo rules rejected by visudo -cf: %s\n%s", strings.TrimSpace(string(out)), b.String())
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	c.SudoersPath = path
	return nil
}

// aliasDef finds the names a sudoers line defines: "Cmnd_Alias NAME =",
// also for User_, Host_ and Runas_Alias.
var aliasDef = regexp.MustCompile(`^\s*(?:Cmnd|User|Host|Runas)_Alias\s+([A-Z][A-Z0-9_]*)\s*=`)

// slotAliases makes the alias names in rules unique to slot k. Every
// cluster's rules share the machine's one sudo, where an alias defined in
// two files makes sudo refuse everything; the rules `etcdplay sudoers`
// prints name their aliases after the hosts (ETCDPLAY_HOST1), the same in
// every cluster, so each gets the suffix _BED<k>.
func slotAliases(rules []string, k int) []string {
	var names []string
	for _, r := range rules {
		if m := aliasDef.FindStringSubmatch(r); m != nil {
			names = append(names, m[1])
		}
	}
	if len(names) == 0 {
		return rules
	}
	suffix := fmt.Sprintf("_BED%d", k)
	re := regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)
	out := make([]string, len(rules))
	for i, r := range rules {
		if strings.HasPrefix(strings.TrimSpace(r), "#") {
			out[i] = r
			continue
		}
		out[i] = re.ReplaceAllStringFunc(r, func(n string) string {
			if strings.HasSuffix(n, suffix) {
				return n
			}
			return n + suffix
		})
	}
	return out
}

// SudoRules returns the sudo rules the cluster's login user has now (the
// lines of its sudoers file, without the comment).
func (c *Cluster) SudoRules() ([]string, error) {
	if c.SudoersPath == "" {
		return nil, errors.New("testbed: " + c.Name + " has no sudo rules (not production-shaped)")
	}
	b, err := os.ReadFile(c.SudoersPath)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, nil
}

// SetSudoRules replaces the cluster's sudo rules while it runs (a test
// that removes one line to see etcdplay refuse).
func (c *Cluster) SetSudoRules(ctx context.Context, rules []string) error {
	if c.SudoersPath == "" {
		return errors.New("testbed: " + c.Name + " has no sudo rules (not production-shaped)")
	}
	if rules == nil {
		rules = []string{}
	}
	return c.writeSudoers(ctx, rules)
}

// removeStaleSudoers removes slot k's sudo rules; the caller holds the
// slot, so whoever wrote them is gone.
func removeStaleSudoers(k int) {
	_ = os.Remove(sudoersPath(k))
	_ = os.Remove(sudoersPath(k) + ".tmp")
}
