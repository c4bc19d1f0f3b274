package etcdprobe

import "testing"

// Bodies as the bed's binaries answer GET /version (docs/etcd-behaviour.md).
func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Versions
		err        bool
	}{
		{"2.0 plain text", "etcd 2.0.8", Versions{Server: "2.0.8"}, false},
		{"2.0 plain text newline", "etcd 2.0.0\n", Versions{Server: "2.0.0"}, false},
		{"2.0 json", `{"releaseVersion":"2.0.8","internalVersion":"2"}`, Versions{Server: "2.0.8"}, false},
		{"2.1 not decided", `{"etcdserver":"2.1.1","etcdcluster":"not_decided"}`, Versions{Server: "2.1.1"}, false},
		{"2.3", `{"etcdserver":"2.3.8","etcdcluster":"2.3.0"}`, Versions{Server: "2.3.8", Cluster: "2.3.0"}, false},
		{"3.4", `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`, Versions{Server: "3.4.23", Cluster: "3.4.0"}, false},
		{"3.6 storage", `{"etcdserver":"3.6.16","etcdcluster":"3.6.0","storage":"3.6.0"}` + "\n", Versions{Server: "3.6.16", Cluster: "3.6.0", Storage: "3.6.0"}, false},
		{"3.6 storage lagging", `{"etcdserver":"3.6.16","etcdcluster":"3.5.0","storage":"3.5.0"}`, Versions{Server: "3.6.16", Cluster: "3.5.0", Storage: "3.5.0"}, false},
		{"empty", "", Versions{}, true},
		{"html", "<html>404</html>", Versions{}, true},
		{"json without server", `{"etcdcluster":"3.4.0"}`, Versions{}, true},
		{"broken json", `{"etcdserver":`, Versions{}, true},
		{"text not a version", "etcd is great", Versions{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVersion([]byte(tc.body))
			if (err != nil) != tc.err {
				t.Fatalf("ParseVersion(%q) error = %v, want error %v", tc.body, err, tc.err)
			}
			if got != tc.want {
				t.Errorf("ParseVersion(%q) = %+v, want %+v", tc.body, got, tc.want)
			}
		})
	}
}

func TestIDText(t *testing.T) {
	id := ID(0x8e9e05c52164694d)
	b, _ := id.MarshalText()
	if string(b) != "8e9e05c52164694d" {
		t.Fatalf("MarshalText = %s", b)
	}
	var back ID
	if err := back.UnmarshalText(b); err != nil || back != id {
		t.Fatalf("UnmarshalText = %v, %v", back, err)
	}
	if b, _ := ID(0).MarshalText(); len(b) != 0 {
		t.Fatalf("zero ID marshals as %q, want empty", b)
	}
}
