package steps

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/schema"
)

// A member's effective etcd options are read from its running process, as
// the login user, in one SSH round trip (docs/production.md, "How etcdplay
// reads each member's options"):
//
//   - the process: every /proc/PID/cmdline (world-readable) whose first
//     word is the member's binary (or its base name, when etcd was started
//     through PATH); with several, the one whose flags, environment or
//     config file name the member's client URL, then its --name;
//   - its flags from that cmdline, its ETCD_* environment from
//     /proc/PID/environ (readable only as etcd's own user or root: else
//     the environment is reported unknown, since no sudo rule can name a
//     pid that changes at every restart);
//   - with --config-file (or ETCD_CONFIG_FILE), that file's YAML keys,
//     which then are the only options etcd applies: it ignores every other
//     flag and variable (docs/etcd-behaviour.md). A file the login user
//     cannot read is read with the exact `sudo -n cat -- FILE` that
//     MemberPrivileged lists, when ssh.sudo is on.

// Where an option was set.
const (
	SourceFlag       = "flag"
	SourceEnv        = "env"
	SourceConfigFile = "config-file"
)

// MemberOptions is what one member's etcd process runs with.
type MemberOptions struct {
	PID        int               `json:"pid,omitempty"`
	Options    map[string]string `json:"options"`
	Sources    map[string]string `json:"sources"`
	ConfigFile string            `json:"config_file,omitempty"`
	// ConfigNeedsSudo: the login user cannot read ConfigFile, so reading
	// it needs the privileged `cat` (MemberPrivileged lists it).
	ConfigNeedsSudo bool `json:"config_needs_sudo,omitempty"`
	// Unknown says what could not be read and why; "" when all was.
	Unknown string `json:"unknown,omitempty"`
}

// optionsScript finds the candidate processes and prints, per process,
// its cmdline, environ (when readable) and config file (when one is named
// and readable, directly or through sudo), base64-encoded, one
// tab-separated line each. $1 binary, $2 "1" when sudo may be used.
const optionsScript = `bin=$1 sudo=$2 base=${1##*/}
for f in $(grep -lzxF -e "$bin" -e "$base" /proc/[0-9]*/cmdline 2>/dev/null); do
  d=${f%/cmdline} p=${f#/proc/}; p=${p%/cmdline}
  c=$(base64 -w0 <"$f" 2>/dev/null) || continue
  printf 'cmd\t%s\t%s\n' "$p" "$c"
  cfg=$(tr '\0' '\n' <"$f" | awk 'prev ~ /^--?config-file$/ {print; exit} /^--?config-file=/ {sub(/^[^=]*=/, ""); print; exit} {prev = $0}')
  if e=$(base64 -w0 <"$d/environ" 2>/dev/null); then
    printf 'env\t%s\t%s\n' "$p" "$e"
    [ -n "$cfg" ] || cfg=$(tr '\0' '\n' <"$d/environ" | sed -n 's/^ETCD_CONFIG_FILE=//p' | head -n 1)
  else
    printf 'noenv\t%s\n' "$p"
  fi
  [ -n "$cfg" ] || continue
  case $cfg in /*) ;; *) cfg=$(readlink "$d/cwd" 2>/dev/null)/$cfg ;; esac
  if y=$(base64 -w0 <"$cfg" 2>/dev/null); then
    printf 'cfg\t%s\t%s\t%s\n' "$p" "$cfg" "$y"
  elif [ "$sudo" = 1 ] && y=$(sudo -n "$(command -v cat)" -- "$cfg" 2>/dev/null); then
    printf 'sudocfg\t%s\t%s\t%s\n' "$p" "$cfg" "$(printf '%s\n' "$y" | base64 -w0)"
  else
    printf 'nocfg\t%s\t%s\n' "$p" "$cfg"
  fi
done`

// ReadOptions reads m's running etcd's options in one round trip. A
// member whose process is not found, or whose settings cannot all be
// read, is no error: Unknown says what is missing. The error is for a
// host that cannot run the script.
func ReadOptions(ctx context.Context, h Host, m *schema.MemberConfig) (MemberOptions, error) {
	sudo := "0"
	if sudoOn(m) {
		sudo = "1"
	}
	res, err := shScript(ctx, h, optionsScript, m.Binary, sudo)
	if err != nil {
		return MemberOptions{}, fmt.Errorf("read etcd options on %s: %w", m.Name, err)
	}
	if res.ExitStatus != 0 {
		return MemberOptions{}, fmt.Errorf("read etcd options on %s: exit %d%s", m.Name, res.ExitStatus, outputTail(res))
	}
	procs, err := parseOptionsOutput(string(res.Stdout))
	if err != nil {
		return MemberOptions{}, fmt.Errorf("read etcd options on %s: %w", m.Name, err)
	}
	return pickProcess(procs, m), nil
}

// rawProcess is one candidate process as the script printed it.
type rawProcess struct {
	pid        int
	argv       []string
	env        []string // nil: not readable
	config     string   // path, "" when none is named
	configText []byte
	configRead bool // configText is the file's content
	configSudo bool // read through sudo
}

func parseOptionsOutput(out string) ([]*rawProcess, error) {
	var procs []*rawProcess
	byPID := map[int]*rawProcess{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		w := strings.Split(line, "\t")
		if len(w) < 2 {
			return nil, fmt.Errorf("unreadable line %q", line)
		}
		pid, err := strconv.Atoi(w[1])
		if err != nil {
			return nil, fmt.Errorf("unreadable pid in %q", line)
		}
		p := byPID[pid]
		if p == nil {
			p = &rawProcess{pid: pid}
			byPID[pid] = p
			procs = append(procs, p)
		}
		last := func() ([]byte, error) { return base64.StdEncoding.DecodeString(w[len(w)-1]) }
		switch {
		case w[0] == "cmd" && len(w) == 3:
			b, err := last()
			if err != nil {
				return nil, fmt.Errorf("cmdline of %d: %w", pid, err)
			}
			p.argv = splitNUL(b)
		case w[0] == "env" && len(w) == 3:
			b, err := last()
			if err != nil {
				return nil, fmt.Errorf("environ of %d: %w", pid, err)
			}
			p.env = splitNUL(b)
			if p.env == nil {
				p.env = []string{}
			}
		case w[0] == "noenv" && len(w) == 2:
		case (w[0] == "cfg" || w[0] == "sudocfg") && len(w) == 4:
			b, err := last()
			if err != nil {
				return nil, fmt.Errorf("config file of %d: %w", pid, err)
			}
			p.config, p.configText, p.configRead, p.configSudo = w[2], b, true, w[0] == "sudocfg"
		case w[0] == "nocfg" && len(w) == 3:
			p.config = w[2]
		default:
			return nil, fmt.Errorf("unreadable line %q", line)
		}
	}
	return procs, nil
}

// splitNUL splits a /proc cmdline or environ: NUL-terminated words.
func splitNUL(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// pickProcess chooses m's process among the candidates and turns it into
// options.
func pickProcess(procs []*rawProcess, m *schema.MemberConfig) MemberOptions {
	var exact, byBase []*rawProcess
	for _, p := range procs {
		if len(p.argv) == 0 {
			continue
		}
		switch p.argv[0] {
		case m.Binary:
			exact = append(exact, p)
		case path.Base(m.Binary):
			byBase = append(byBase, p)
		}
	}
	cands := cmpOr(exact, byBase)
	if len(cands) > 1 {
		cands = narrow(cands, func(p *rawProcess) bool { return mentions(p, hostPort(m.Client)) })
	}
	if len(cands) > 1 {
		cands = narrow(cands, func(p *rawProcess) bool { return mentions(p, m.Name) })
	}
	switch len(cands) {
	case 0:
		return MemberOptions{Unknown: fmt.Sprintf("no running process of %s found (/proc/*/cmdline): is the member running?", m.Binary)}
	case 1:
		return optionsOf(cands[0])
	default:
		pids := make([]string, len(cands))
		for i, p := range cands {
			pids[i] = strconv.Itoa(p.pid)
		}
		return MemberOptions{Unknown: fmt.Sprintf("%d processes of %s (pids %s) and none alone names %s or %s", len(cands), m.Binary, strings.Join(pids, ", "), m.Client, m.Name)}
	}
}

func cmpOr(a, b []*rawProcess) []*rawProcess {
	if len(a) > 0 {
		return a
	}
	return b
}

// narrow keeps the candidates that match, unless none does.
func narrow(cands []*rawProcess, match func(*rawProcess) bool) []*rawProcess {
	var out []*rawProcess
	for _, p := range cands {
		if match(p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return cands
	}
	return out
}

func hostPort(client string) string {
	if u, err := url.Parse(client); err == nil && u.Host != "" {
		return u.Host
	}
	return client
}

// mentions: s appears in the process's flags, environment or config file.
func mentions(p *rawProcess, s string) bool {
	if s == "" {
		return false
	}
	return strings.Contains(strings.Join(p.argv[1:], "\x00"), s) ||
		strings.Contains(strings.Join(p.env, "\x00"), s) ||
		strings.Contains(string(p.configText), s)
}

// optionsOf applies etcd's precedence: with a config file only its keys;
// otherwise the flags, and ETCD_* variables for options no flag set.
func optionsOf(p *rawProcess) MemberOptions {
	o := MemberOptions{PID: p.pid, Options: map[string]string{}, Sources: map[string]string{}}
	flags := ParseFlags(p.argv[1:])
	var env map[string]string
	if p.env != nil {
		env = ParseEnv(p.env)
	}
	if p.config != "" {
		o.ConfigFile = p.config
		src := SourceFlag
		if _, ok := flags["config-file"]; !ok {
			src = SourceEnv
		}
		o.Options["config-file"], o.Sources["config-file"] = p.config, src
		if !p.configRead {
			o.ConfigNeedsSudo = true
			o.Unknown = fmt.Sprintf("config file %s is not readable as the login user; with ssh.sudo: true etcdplay reads it with the `cat` line `etcdplay sudoers` prints", p.config)
			return o
		}
		o.ConfigNeedsSudo = p.configSudo
		keys, err := ParseConfigFile(p.configText)
		if err != nil {
			o.Unknown = fmt.Sprintf("config file %s: %v", p.config, err)
			return o
		}
		for k, v := range keys {
			o.Options[k], o.Sources[k] = v, SourceConfigFile
		}
		return o
	}
	for k, v := range env {
		o.Options[k], o.Sources[k] = v, SourceEnv
	}
	for k, v := range flags { // a flag wins over its variable
		o.Options[k], o.Sources[k] = v, SourceFlag
	}
	if p.env == nil {
		o.Unknown = fmt.Sprintf("the ETCD_* environment of pid %d is not readable as the login user (etcd runs as another user); log in as etcd's user, or set options by flag or config file", p.pid)
	}
	return o
}

// ParseFlags reads etcd's command-line flags (after the program name):
// `--flag=value`, `-flag=value`, `--flag value`, and a boolean `--flag`
// ("true"). A flag followed by a word that is not a flag takes it as its
// value: etcd takes no positional arguments, so a running etcd had none.
// `--` ends the flags. Names lose their dashes; the last setting wins.
func ParseFlags(args []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if k, v, ok := strings.Cut(name, "="); ok {
			out[k] = v
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out[name] = args[i+1]
			i++
			continue
		}
		out[name] = "true"
	}
	return out
}

// ParseEnv reads ETCD_* variables as etcd maps them to flags:
// ETCD_ENABLE_V2 is enable-v2.
func ParseEnv(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "ETCD_") || len(k) == len("ETCD_") {
			continue
		}
		out[strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "ETCD_"), "_", "-"))] = v
	}
	return out
}

// ParseConfigFile reads an etcd config file's top-level keys as they are
// written; a scalar keeps its text ("true", "off"), a mapping or list is
// its JSON.
func ParseConfigFile(src []byte) (map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	out := map[string]string{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a YAML mapping of option: value")
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i].Value, top.Content[i+1]
		for v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if v.Kind == yaml.ScalarNode {
			if v.Tag == "!!null" {
				out[k] = ""
			} else {
				out[k] = v.Value
			}
			continue
		}
		var x any
		if err := v.Decode(&x); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}

// Names lists the options, sorted.
func (o MemberOptions) Names() []string { return slices.Sorted(maps.Keys(o.Options)) }
