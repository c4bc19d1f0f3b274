package steps

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// Privileged commands are everything etcdplay runs as root on a member
// when the inventory says ssh.sudo. Each is one program with its
// arguments, sent as `sudo -n PROGRAM ARGS...` (never a shell), so a
// sudoers rule can allow exactly it. This file is the only place they are
// built: the commands swap, ssh-stop and ssh-start run and the lines
// `etcdplay sudoers` prints come from the same functions and cannot drift
// apart (docs/production.md).

// Beside the member's binary (same folder, so renames are atomic):
const (
	// newSuffix is where a release is installed before it is renamed over
	// the binary.
	newSuffix = ".etcdplay-new"
	// prevSuffix keeps the binary a swap replaced, for the rollback.
	prevSuffix = ".etcdplay-prev"
)

// PrivilegedCommand is one exact command run under sudo, with why.
type PrivilegedCommand struct {
	Argv    []string `json:"argv"`
	Purpose string   `json:"purpose"`
}

// String is the command as sudoers and `sudo -l` show it.
func (c PrivilegedCommand) String() string { return strings.Join(c.Argv, " ") }

// HostFacts is what privileged commands depend on, read from one host by
// ReadHostFacts (unprivileged) or assumed by the sudoers printer offline:
// programs resolved to absolute paths and the owner and mode of the files
// swap replaces (install keeps them).
type HostFacts struct {
	Home     string               `json:"home"`
	Programs map[string]string    `json:"programs"` // name -> absolute path
	Files    map[string]FileOwner `json:"files"`    // absolute path -> owner
	// ConfigFile is the member's etcd --config-file when the login user
	// cannot read it: ReadOptions then reads it with readConfigArgv.
	ConfigFile string `json:"config_file,omitempty"`
	// DataDir is the member's etcd data directory when the login user
	// cannot read it: check-v2store then runs checkV2storeArgv under sudo.
	DataDir string `json:"data_dir,omitempty"`
}

// FileOwner is who owns a binary and its mode; Missing when it does not
// exist yet (install then gives root:root 0755, as a package would).
type FileOwner struct {
	Owner   string `json:"owner"`
	Group   string `json:"group"`
	Mode    string `json:"mode"` // four octal digits, as install -m takes it
	Missing bool   `json:"missing,omitempty"`
}

// privilegedTools are the programs swap runs under sudo, cat, which
// reads a config file only etcd's user can (ReadOptions), and grep, which
// check-v2-wal runs on a data directory only etcd's user can read.
var privilegedTools = []string{"install", "mv", "rm", "cat", "chown", "grep"}

// OfflineHostFacts is what the sudoers printer assumes without SSH: the
// tools in /usr/bin (true on merged-/usr systems: Debian 12, Ubuntu 22.04,
// RHEL 9), binaries root:root 0755, home /home/USER, and the inventory's
// data_dir readable only by etcd's user.
func OfflineHostFacts(m *schema.MemberConfig) HostFacts {
	f := HostFacts{Home: "/home/" + cmp.Or(m.SSH.User, "USER"), Programs: map[string]string{}, Files: map[string]FileOwner{},
		DataDir: m.DataDir} // etcd's own user owns it, 0700
	for _, p := range hostPrograms(m) {
		f.Programs[p] = "/usr/bin/" + p
	}
	for _, b := range []string{m.Binary, m.Etcdctl} {
		if b != "" {
			f.Files[b] = FileOwner{Owner: "root", Group: "root", Mode: "0755"}
		}
	}
	return f
}

// hostPrograms: the tools, and the service commands' programs given
// without a path.
func hostPrograms(m *schema.MemberConfig) []string {
	out := append([]string(nil), privilegedTools...)
	for _, c := range []string{m.Service.Start, m.Service.Stop, m.Service.Status} {
		if w := strings.Fields(c); len(w) > 0 && !strings.HasPrefix(w[0], "/") {
			out = append(out, w[0])
		}
	}
	return out
}

// hostFactsScript prints $HOME, `command -v` of each program name and
// `stat` of each absolute path, one tab-separated line each.
const hostFactsScript = `printf 'home\t%s\n' "$HOME"
for p do
  case $p in
  "~/"*) p="$HOME/${p#??}" ;;
  esac
  case $p in
  /*) if s=$(stat -L -c '%U %G %a' "$p" 2>/dev/null); then printf 'file\t%s\t%s\n' "$p" "$s"; else printf 'nofile\t%s\n' "$p"; fi ;;
  *) if c=$(command -v "$p" 2>/dev/null); then printf 'cmd\t%s\t%s\n' "$p" "$c"; else printf 'nocmd\t%s\n' "$p"; fi ;;
  esac
done`

// ReadHostFacts reads, as the login user, what the member's privileged
// commands need: absolute paths of install, mv, rm and the service
// programs, and the owner and mode of the binaries (and of alsoStat, where
// ~/ is the login user's home), in one round trip.
func ReadHostFacts(ctx context.Context, h Host, m *schema.MemberConfig, alsoStat ...string) (HostFacts, error) {
	res, err := h.Run(ctx, ssh.Command{Argv: hostFactsArgv(m, alsoStat)})
	if err != nil {
		return HostFacts{}, fmt.Errorf("read tool paths on %s: %w", m.Name, err)
	}
	if res.ExitStatus != 0 {
		return HostFacts{}, fmt.Errorf("read tool paths on %s: exit %d%s", m.Name, res.ExitStatus, outputTail(res))
	}
	return parseHostFacts(m, res.Stdout)
}

// hostFactsArgv is the command ReadHostFacts runs (alone, or in a batch).
func hostFactsArgv(m *schema.MemberConfig, alsoStat []string) []string {
	args := append([]string(nil), privilegedTools...)
	if sudoOn(m) {
		args = hostPrograms(m)
	}
	for _, b := range []string{m.Binary, m.Etcdctl} {
		if b != "" {
			args = append(args, b)
		}
	}
	args = append(args, alsoStat...)
	return append([]string{"sh", "-c", hostFactsScript, "etcdplay"}, args...)
}

// parseHostFacts reads what hostFactsScript printed.
func parseHostFacts(m *schema.MemberConfig, out []byte) (HostFacts, error) {
	f := HostFacts{Programs: map[string]string{}, Files: map[string]FileOwner{}}
	var missing []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		w := strings.Split(line, "\t")
		switch {
		case w[0] == "home" && len(w) == 2:
			f.Home = w[1]
		case w[0] == "cmd" && len(w) == 3:
			f.Programs[w[1]] = w[2]
		case w[0] == "nocmd" && len(w) == 2:
			missing = append(missing, w[1])
		case w[0] == "file" && len(w) == 3:
			o := strings.Fields(w[2])
			if len(o) != 3 {
				return HostFacts{}, fmt.Errorf("stat %s on %s: unreadable %q", w[1], m.Name, w[2])
			}
			mode, err := strconv.ParseUint(o[2], 8, 32)
			if err != nil {
				return HostFacts{}, fmt.Errorf("stat %s on %s: mode %q: %w", w[1], m.Name, o[2], err)
			}
			f.Files[w[1]] = FileOwner{Owner: o[0], Group: o[1], Mode: fmt.Sprintf("%04o", mode&0o7777)}
		case w[0] == "nofile" && len(w) == 2:
			f.Files[w[1]] = FileOwner{Owner: "root", Group: "root", Mode: "0755", Missing: true}
		}
	}
	if len(missing) > 0 && sudoOn(m) {
		return f, fmt.Errorf("%s not found on %s (command -v as the login user)", strings.Join(missing, ", "), m.Name)
	}
	return f, nil
}

// program is the absolute path of name on the host, or name itself when
// the facts do not know it (sudo off: PATH finds it).
func (f HostFacts) program(name string) string {
	if p, ok := f.Programs[name]; ok {
		return p
	}
	return name
}

// owner is how install must write dst: as the file it replaces.
func (f HostFacts) owner(dst string) FileOwner {
	if o, ok := f.Files[dst]; ok {
		return o
	}
	return FileOwner{Owner: "root", Group: "root", Mode: "0755", Missing: true}
}

// installArgv copies src (staged or a remote release) to dst.etcdplay-new
// with dst's owner and mode. Under sudo the owner is set explicitly, so
// the copy is the etcd owner's and not root's; without sudo only the mode
// (the login user cannot give files away).
func installArgv(f HostFacts, sudo bool, src, dst string) []string {
	o := f.owner(dst)
	if !sudo {
		return []string{f.program("install"), "-m", o.Mode, "--", src, dst + newSuffix}
	}
	return []string{f.program("install"), "-o", o.Owner, "-g", o.Group, "-m", o.Mode, "--", src, dst + newSuffix}
}

// keepArgv keeps the binary being replaced, by rename, for the rollback.
func keepArgv(f HostFacts, dst string) []string {
	return []string{f.program("mv"), "-f", "--", dst, dst + prevSuffix}
}

// placeArgv renames the installed copy over the binary (atomic).
func placeArgv(f HostFacts, dst string) []string {
	return []string{f.program("mv"), "-f", "--", dst + newSuffix, dst}
}

// restoreArgv puts the kept binary back (a failed swap, a rollback).
func restoreArgv(f HostFacts, dst string) []string {
	return []string{f.program("mv"), "-f", "--", dst + prevSuffix, dst}
}

// discardArgv removes an installed copy that was not placed.
func discardArgv(f HostFacts, dst string) []string {
	return []string{f.program("rm"), "-f", "--", dst + newSuffix}
}

// readConfigArgv reads etcd's config file as root: the exact command
// optionsScript runs (`sudo -n "$(command -v cat)" -- FILE`) when the
// login user cannot read the file.
func readConfigArgv(f HostFacts, file string) []string {
	return []string{f.program("cat"), "--", file}
}

// checkV2storeArgv is check-v2store's etcdutl run on a data directory
// (under sudo when the login user cannot read it). --data-dir=DIR is one
// word, so no directory name reads as another option.
func checkV2storeArgv(etcdutl, dataDir string) []string {
	return []string{etcdutl, "check", "v2store", "--data-dir=" + dataDir}
}

// v2WALArgv lists the member's WAL files that hold a v2 request 3.5
// wrote (check_v2_wal.go): fixed strings only, so the sudoers rule has
// no wildcard. -l stops reading a file at its first match.
func v2WALArgv(grep, dataDir string) []string {
	args := []string{grep, "-r", "-l", "-a", "-F"}
	for _, s := range v2RequestMarks {
		args = append(args, "-e", s)
	}
	return append(args, "--", dataDir+"/member/wal")
}

// snapVersionArgv counts, in each file of the member's snap folder but
// the backend (db, which can be gigabytes), the v2store nodes that record
// cluster version v2WALSafeClusterVersion: one "FILE:COUNT" line per file.
func snapVersionArgv(grep, dataDir string) []string {
	return []string{grep, "-r", "-c", "-a", "--exclude=db", "-e", snapVersionMark, "--", dataDir + "/member/snap"}
}

// ServiceArgv splits a service command into the argv sudo runs, the
// program resolved to its absolute path. A command with shell syntax is
// refused: under sudo it would need a shell, that is, full root.
func ServiceArgv(cmd string, f HostFacts) ([]string, error) {
	if err := schema.CheckServiceCommand(cmd); err != nil {
		return nil, err
	}
	w := strings.Fields(cmd)
	w[0] = f.program(w[0])
	return w, nil
}

// swappedFiles are the binaries a swap on m replaces: etcd, and etcdctl
// when the member has one and some release names one.
func swappedFiles(inv *schema.Inventory, m *schema.MemberConfig) []string {
	out := []string{m.Binary}
	if m.Etcdctl != "" {
		for _, r := range inv.Releases {
			if r.Etcdctl != "" {
				out = append(out, m.Etcdctl)
				break
			}
		}
	}
	return out
}

// MemberPrivileged lists every command etcdplay may run under sudo on
// m's host with this inventory and the shipped playbooks: the service
// commands, and for each binary swap replaces, the install of every
// release (from the staging folder or the remote path) and the renames
// that keep, place and restore it. Nothing broader: no wildcards.
func MemberPrivileged(inv *schema.Inventory, m *schema.MemberConfig, f HostFacts) ([]PrivilegedCommand, error) {
	var out []PrivilegedCommand
	for _, s := range []struct{ cmd, why string }{
		{m.Service.Stop, "ssh-stop: service.stop"},
		{m.Service.Start, "ssh-start: service.start"},
		{m.Service.Status, "ssh-stop/ssh-start: service.status"},
	} {
		if s.cmd == "" {
			continue
		}
		argv, err := ServiceArgv(s.cmd, f)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", m.Name, err)
		}
		out = append(out, PrivilegedCommand{Argv: argv, Purpose: s.why})
	}
	if f.ConfigFile != "" {
		out = append(out, PrivilegedCommand{Argv: readConfigArgv(f, f.ConfigFile),
			Purpose: "preflight: read etcd's config file for the member.options facts"})
	}
	if f.DataDir != "" {
		// Only a remote etcdutl: sudo never runs an upload from the
		// login user's staging folder (check_v2store.go).
		if r, err := v2storeRelease(inv); err == nil && r.Remote != "" {
			out = append(out, PrivilegedCommand{Argv: checkV2storeArgv(r.Etcdutl, f.DataDir),
				Purpose: "check-v2store: etcdutl " + r.Version.String() + " reads the data directory for custom v2 content"})
		}
		out = append(out, PrivilegedCommand{Argv: v2WALArgv(f.program("grep"), f.DataDir),
			Purpose: "check-v2-wal: find WAL files that hold v2 requests 3.5 wrote"})
		out = append(out, PrivilegedCommand{Argv: snapVersionArgv(f.program("grep"), f.DataDir),
			Purpose: "check-v2-wal: find raft snapshots taken after the cluster version became " + v2WALSafeClusterVersion})
	}
	stage := StageDir(inv, m, f.Home)
	for _, dst := range swappedFiles(inv, m) {
		tool := path.Base(dst)
		for _, r := range installable(inv) {
			src, ok := releaseSource(r, dst == m.Binary, stage)
			if !ok {
				continue
			}
			out = append(out, PrivilegedCommand{Argv: installArgv(f, true, src, dst),
				Purpose: fmt.Sprintf("swap: install %s %s beside %s", tool, r.Version, dst)})
		}
		out = append(out,
			PrivilegedCommand{Argv: keepArgv(f, dst), Purpose: "swap: keep the replaced " + tool + " for a rollback"},
			PrivilegedCommand{Argv: placeArgv(f, dst), Purpose: "swap: put the new " + tool + " in place"},
			PrivilegedCommand{Argv: restoreArgv(f, dst), Purpose: "swap/rollback: put the kept " + tool + " back"},
			PrivilegedCommand{Argv: discardArgv(f, dst), Purpose: "swap: remove an install that was not placed"},
		)
	}
	return out, nil
}

// installable are the releases a swap can install: the newest of each
// minor line (Inventory.ReleaseFor), oldest first.
func installable(inv *schema.Inventory) []*schema.Release {
	var out []*schema.Release
	for _, r := range inv.SortedReleases() {
		if inv.ReleaseFor(r.Version.MinorLine()) == r {
			out = append(out, r)
		}
	}
	return out
}

// MissingSudoError names every exact command sudo refuses, as the sudoers
// line that would allow it.
type MissingSudoError struct {
	Member, User string
	Missing      []PrivilegedCommand
}

func (e *MissingSudoError) Error() string {
	line := func(c PrivilegedCommand) string {
		return fmt.Sprintf("%s ALL=(root) NOPASSWD: %s", cmp.Or(e.User, "LOGIN_USER"), SudoersArgs(c.Argv))
	}
	if len(e.Missing) == 1 {
		return fmt.Sprintf("missing sudo rule on %s (sudo -n -l refuses it): %s", e.Member, line(e.Missing[0]))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "missing sudo rules on %s: sudo -n -l refuses %d commands etcdplay will run; add to sudoers:", e.Member, len(e.Missing))
	for _, c := range e.Missing {
		b.WriteString("\n  " + line(c))
	}
	return b.String()
}

// Hint points at the command that prints every line.
func (e *MissingSudoError) Hint() string {
	return "'etcdplay sudoers -i INVENTORY' prints every line this inventory needs"
}

// SudoersArgs renders argv as a sudoers command: characters sudoers
// treats specially (, : = \ and spaces inside a word) are escaped.
func SudoersArgs(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		var b strings.Builder
		for _, r := range a {
			if strings.ContainsRune(`,:=\ "`, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		words[i] = b.String()
	}
	return strings.Join(words, " ")
}

// sudoListScript asks sudo about each command, one per argument (each a
// shell-quoted argv built here, never operator text), and prints each exit
// status: one round trip for all of a step's commands. The script runs as
// the login user; only sudo's own -l runs for each.
const sudoListScript = `for c do eval "sudo -n -l $c" >/dev/null 2>&1; echo $?; done`

// checkSudo proves every command in cmds is allowed on the host
// (`sudo -n -l ARGV` exits 0 only then, and runs nothing), and reports all
// that are missing at once.
func checkSudo(ctx context.Context, h Host, m *schema.MemberConfig, cmds []PrivilegedCommand) error {
	args := make([]string, len(cmds))
	for i, c := range cmds {
		args[i] = shell.Join(c.Argv...)
	}
	res, err := shScript(ctx, h, sudoListScript, args...)
	if err != nil {
		return fmt.Errorf("sudo -n -l on %s: %w", m.Name, err)
	}
	codes := strings.Fields(string(res.Stdout))
	if res.ExitStatus != 0 || len(codes) != len(cmds) {
		return fmt.Errorf("sudo -n -l on %s: exit %d, %d answers for %d commands%s", m.Name, res.ExitStatus, len(codes), len(cmds), outputTail(res))
	}
	var missing []PrivilegedCommand
	for i, c := range cmds {
		if codes[i] != "0" {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return &MissingSudoError{Member: m.Name, User: m.SSH.User, Missing: missing}
	}
	return nil
}

// sudoOn: the member's privileged commands go through sudo.
func sudoOn(m *schema.MemberConfig) bool { return m.SSH.Sudo != nil && *m.SSH.Sudo }

// RenderSudoers is the sudoers text that allows exactly cmds to user on
// one host: one Cmnd_Alias with every command (absolute paths, literal
// arguments, no wildcards: in sudoers `*` matches spaces too) and one
// NOPASSWD rule. alias names the host's commands (upper case, digits, _).
func RenderSudoers(user, alias string, cmds []PrivilegedCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Cmnd_Alias %s = \\\n", alias)
	for i, c := range cmds {
		sep := ", \\\n"
		if i == len(cmds)-1 {
			sep = "\n"
		}
		fmt.Fprintf(&b, "    %s%s", SudoersArgs(c.Argv), sep)
	}
	fmt.Fprintf(&b, "%s ALL=(root) NOPASSWD: %s\n", cmp.Or(user, "LOGIN_USER"), alias)
	return b.String()
}

// SudoersAlias turns a name into a Cmnd_Alias name. Callers pass cluster
// and member: an alias defined twice across sudoers.d files (two clusters
// managed from one host) is silently replaced, not merged.
func SudoersAlias(name string) string {
	var b strings.Builder
	b.WriteString("ETCDPLAY_")
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
