package steps

import (
	"encoding/base64"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/schema"
)

func TestParseFlags(t *testing.T) {
	got := ParseFlags([]string{"--name=infra0", "--enable-v2", "--data-dir", "/var/lib/etcd",
		"-snapshot-count=100", "--debug", "--proxy=off", "--logger", "zap", "--strict-reconfig-check=false",
		"--", "--not-a-flag"})
	want := map[string]string{"name": "infra0", "enable-v2": "true", "data-dir": "/var/lib/etcd",
		"snapshot-count": "100", "debug": "true", "proxy": "off", "logger": "zap", "strict-reconfig-check": "false"}
	if !maps.Equal(got, want) {
		t.Errorf("ParseFlags = %v\nwant %v", got, want)
	}
	if got := ParseFlags([]string{"--x=1", "--x=2"}); got["x"] != "2" {
		t.Errorf("last setting wins: x = %q", got["x"])
	}
}

func TestParseEnv(t *testing.T) {
	got := ParseEnv([]string{"ETCD_ENABLE_V2=true", "ETCDCTL_API=3", "PATH=/bin", "ETCD_=x", "ETCD_LOG_LEVEL=debug", "ETCD_INITIAL_CLUSTER=a=http://x:2380"})
	want := map[string]string{"enable-v2": "true", "log-level": "debug", "initial-cluster": "a=http://x:2380"}
	if !maps.Equal(got, want) {
		t.Errorf("ParseEnv = %v, want %v", got, want)
	}
}

func TestParseConfigFile(t *testing.T) {
	got, err := ParseConfigFile([]byte("# c\nname: infra0\nenable-v2: true\nproxy: 'off'\nempty:\nclient-transport-security:\n  cert-file: /c.pem\n  client-cert-auth: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "infra0", "enable-v2": "true", "proxy": "off", "empty": "",
		"client-transport-security": `{"cert-file":"/c.pem","client-cert-auth":true}`}
	if !maps.Equal(got, want) {
		t.Errorf("ParseConfigFile = %v\nwant %v", got, want)
	}
	if _, err := ParseConfigFile([]byte("- a\n- b\n")); err == nil {
		t.Error("a list is not a config file")
	}
}

// out builds the script's output for processes.
func out(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func b64(words ...string) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Join(words, "\x00") + "\x00"))
}

func TestReadOptionsPrecedence(t *testing.T) {
	m := &schema.MemberConfig{Name: "infra1", Client: "http://127.0.0.12:2379"}
	m.Binary = "/opt/etcd/etcd"
	for _, tc := range []struct {
		name, out       string
		want            map[string]string // option -> value@source
		unknown, config string
	}{
		{name: "flags over env",
			out: out("cmd\t10\t"+b64("/opt/etcd/etcd", "--name", "infra1", "--enable-v2", "--listen-client-urls=http://127.0.0.12:2379"),
				"env\t10\t"+b64("ETCD_ENABLE_V2=false", "ETCD_LOG_LEVEL=warn", "HOME=/x")),
			want: map[string]string{"name": "infra1@flag", "enable-v2": "true@flag", "listen-client-urls": "http://127.0.0.12:2379@flag", "log-level": "warn@env"}},
		{name: "env unreadable is unknown",
			out:     out("cmd\t10\t"+b64("/opt/etcd/etcd", "--name=infra1"), "noenv\t10"),
			want:    map[string]string{"name": "infra1@flag"},
			unknown: "environment of pid 10 is not readable"},
		{name: "config file wins over flags and env",
			out: out("cmd\t10\t"+b64("/opt/etcd/etcd", "--config-file", "/etc/etcd.yaml", "--enable-v2"), "noenv\t10",
				"cfg\t10\t/etc/etcd.yaml\t"+base64.StdEncoding.EncodeToString([]byte("name: infra1\nenable-v2: true\n"))),
			want:   map[string]string{"config-file": "/etc/etcd.yaml@flag", "name": "infra1@config-file", "enable-v2": "true@config-file"},
			config: "/etc/etcd.yaml"},
		{name: "config file unreadable",
			out:     out("cmd\t10\t"+b64("/opt/etcd/etcd", "--config-file=/etc/etcd.yaml"), "noenv\t10", "nocfg\t10\t/etc/etcd.yaml"),
			want:    map[string]string{"config-file": "/etc/etcd.yaml@flag"},
			unknown: "config file /etc/etcd.yaml is not readable", config: "/etc/etcd.yaml"},
		{name: "the member's process among others by client URL",
			out: out("cmd\t10\t"+b64("/opt/etcd/etcd", "--name=infra0", "--listen-client-urls=http://127.0.0.11:2379"), "env\t10\t"+b64("A=b"),
				"cmd\t11\t"+b64("/opt/etcd/etcd", "--name=infra1", "--listen-client-urls=http://127.0.0.12:2379"), "env\t11\t"+b64("A=b"),
				"cmd\t12\t"+b64("grep", "-lzxF", "-e", "/opt/etcd/etcd")),
			want: map[string]string{"name": "infra1@flag", "listen-client-urls": "http://127.0.0.12:2379@flag"}},
		{name: "no process",
			out:     out("cmd\t12\t" + b64("sh", "-c", "x", "/opt/etcd/etcd")),
			unknown: "no running process of /opt/etcd/etcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			procs, err := parseOptionsOutput(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			o := pickProcess(procs, m)
			got := map[string]string{}
			for k, v := range o.Options {
				got[k] = v + "@" + o.Sources[k]
			}
			if tc.want == nil {
				tc.want = map[string]string{}
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("options = %v\nwant %v", got, tc.want)
			}
			if !strings.Contains(o.Unknown, tc.unknown) || (tc.unknown == "") != (o.Unknown == "") {
				t.Errorf("unknown = %q, want containing %q", o.Unknown, tc.unknown)
			}
			if o.ConfigFile != tc.config {
				t.Errorf("config file = %q, want %q", o.ConfigFile, tc.config)
			}
		})
	}
}

func TestRefuseOptionsFind(t *testing.T) {
	r := &RefuseOptions{Removed: []string{"enable-v2=true", "experimental-enable-v2v3", "proxy*", "experimental-corrupt-check-time", "experimental-initial-corrupt-check=true", "experimental-*"},
		Values:  []string{"logger=capnslog"},
		Instead: map[string]string{"experimental-corrupt-check-time": "corrupt-check-time", "experimental-initial-corrupt-check": "feature-gates=InitialCorruptCheck={value}", "logger": "logger=zap"},
		Message: "remove it", Unknown: "warn"}
	mem := func(name string, kv ...string) schema.MemberFacts {
		m := schema.MemberFacts{Name: name, Options: map[string]string{}, OptionSources: map[string]string{}}
		for _, s := range kv {
			k, rest, _ := strings.Cut(s, "=")
			v, src, _ := strings.Cut(rest, "@")
			m.Options[k], m.OptionSources[k] = v, src
		}
		return m
	}
	f := schema.Facts{Cluster: schema.ClusterFacts{Members: []schema.MemberFacts{
		// A removed flag is fatal whatever its value: etcd exits on it.
		mem("a", "enable-v2=false@flag", "proxy-refresh-interval=30000@env"),
		mem("b", "enable-v2=1@config-file", "config-file=/etc/etcd.yaml@flag"),
		mem("c", "experimental-enable-v2v3=/v2@flag"),
		{Name: "d", OptionsUnknown: "no running process"},
		// A dropped variable or key with a harmless value changes nothing.
		mem("e", "enable-v2=false@env", "experimental-initial-corrupt-check=false@env", "logger=zap@flag", "experimental-initial-corrupt-check=false@config-file"),
		mem("f", "experimental-corrupt-check-time=5m@flag", "experimental-initial-corrupt-check=false@flag", "logger=capnslog@env"),
		mem("g", "experimental-corrupt-check-time=1m@config-file", "experimental-initial-corrupt-check=TRUE@env", "config-file=/etc/g.yaml@env", "experimental-foo=1@config-file"),
	}}}
	hits, unknown := r.find(f)
	var got []string
	for _, h := range hits {
		got = append(got, h.String())
	}
	want := []string{
		"member a runs with enable-v2=false, set by the flag --enable-v2",
		"member a runs with proxy-refresh-interval=30000, set by the environment variable ETCD_PROXY_REFRESH_INTERVAL",
		`member b runs with enable-v2=1, set by the key "enable-v2" in the config file /etc/etcd.yaml`,
		"member c runs with experimental-enable-v2v3=/v2, set by the flag --experimental-enable-v2v3",
		"member f runs with experimental-corrupt-check-time=5m, set by the flag --experimental-corrupt-check-time (use --corrupt-check-time=5m instead)",
		"member f runs with experimental-initial-corrupt-check=false, set by the flag --experimental-initial-corrupt-check (use --feature-gates=InitialCorruptCheck=false instead)",
		"member f runs with logger=capnslog, set by the environment variable ETCD_LOGGER (use ETCD_LOGGER=zap instead)",
		`member g runs with experimental-corrupt-check-time=1m, set by the key "experimental-corrupt-check-time" in the config file /etc/g.yaml (use the key "corrupt-check-time": 1m instead)`,
		"member g runs with experimental-foo=1, set by the key \"experimental-foo\" in the config file /etc/g.yaml",
		"member g runs with experimental-initial-corrupt-check=TRUE, set by the environment variable ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK (use ETCD_FEATURE_GATES=InitialCorruptCheck=TRUE instead)",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(unknown) != 1 || !strings.Contains(unknown[0], "member d") {
		t.Errorf("unknown = %v", unknown)
	}
	if pc := r.PlanCheck(f); pc.Holds || !strings.Contains(pc.Message, "member c runs with") {
		t.Errorf("PlanCheck = %+v", pc)
	}
	// In the members phase only the member itself counts.
	f.Member = mem("e", "enable-v2=false@env")
	if hits, _ := r.find(f); len(hits) != 0 {
		t.Errorf("member phase: hits = %v", hits)
	}
}

// TestRefuseOptionsDecode: a rename table names only options the step
// refuses, as option names; values: are NAME=VALUE; one of removed: and
// values: is needed.
func TestRefuseOptionsDecode(t *testing.T) {
	load := func(args string) error {
		src := "playbook: t\nfrom: \"3.6\"\nto: \"3.7\"\npreflight:\n  - refuse-options: " + args + "\nmembers:\n  steps:\n    - ssh-stop: {}\n"
		_, err := schema.LoadPlaybook("t.yaml", []byte(src), Default())
		return err
	}
	if err := load(`{removed: [experimental-memory-mlock=true], instead: {experimental-memory-mlock: memory-mlock}, message: m}`); err != nil {
		t.Errorf("valid step: %v", err)
	}
	for args, want := range map[string]string{
		`{removed: [a], instead: {b: c}, message: m}`:           `"b" is not an option this step refuses`,
		`{removed: [a], instead: {a: --c}, message: m}`:         `"--c" for a is not NEW or NEW=VALUE`,
		`{values: [logger], message: m}`:                        `"logger" is not NAME=VALUE`,
		`{message: m}`:                                          "refuse-options needs removed: or values:",
		`{values: [logger=capnslog], instead: [x], message: m}`: "refuse-options.instead must be a mapping",
	} {
		if err := load(args); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", args, err, want)
		}
	}
}
