package etcdprobe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Versions is what GET /version says.
type Versions struct {
	Server  string `json:"server"`
	Cluster string `json:"cluster"` // "" when not decided or not reported
	Storage string `json:"storage"` // 3.6+ only
}

// ParseVersion reads a /version body of any etcd from 2.0 to 3.7:
//
//	2.0.x:   "etcd 2.0.8" (plain text), or {"releaseVersion":"2.0.8","internalVersion":"2"}
//	2.1-3.5: {"etcdserver":"3.5.35","etcdcluster":"3.5.0"}
//	3.6+:    the same plus "storage":"3.6.0"
//
// "not_decided" (a cluster whose version is not settled yet) reads as "".
// 2.0 never reports a cluster version; Cluster derives one (see there).
func ParseVersion(body []byte) (Versions, error) {
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '{' {
		var v struct {
			Server   string `json:"etcdserver"`
			Cluster  string `json:"etcdcluster"`
			Storage  string `json:"storage"`
			Release  string `json:"releaseVersion"`
			Internal string `json:"internalVersion"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return Versions{}, fmt.Errorf("parse /version %q: %w", clip(b), err)
		}
		if v.Server == "" {
			v.Server = v.Release
		}
		if v.Server == "" {
			return Versions{}, fmt.Errorf("parse /version %q: no server version", clip(b))
		}
		if v.Cluster == "not_decided" {
			v.Cluster = ""
		}
		return Versions{Server: v.Server, Cluster: v.Cluster, Storage: v.Storage}, nil
	}
	// 2.0 plain text: "etcd 2.0.0".
	if f := strings.Fields(string(b)); len(f) == 2 && f[0] == "etcd" && looksLikeVersion(f[1]) {
		return Versions{Server: strings.TrimPrefix(f[1], "v")}, nil
	}
	return Versions{}, fmt.Errorf("parse /version %q: neither JSON nor \"etcd X.Y.Z\"", clip(b))
}

func looksLikeVersion(s string) bool {
	s = strings.TrimPrefix(s, "v")
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts[:2] {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// is20 reports whether a server version is on the 2.0 line.
func is20(server string) bool { return strings.HasPrefix(server, "2.0.") }

// clip shortens a body for an error message.
func clip(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// reportsAppliedAsRaftIndex: etcd 3.0-3.3 have no raftAppliedIndex in
// Status (3.4 added it), and their raftIndex is the index of the last
// entry the member applied (etcdserver.Index, set as each entry is
// applied), not the commit index 3.4+ report there. So for them raftIndex
// is the applied index.
func reportsAppliedAsRaftIndex(server string) bool {
	for _, p := range []string{"3.0.", "3.1.", "3.2.", "3.3."} {
		if strings.HasPrefix(server, p) {
			return true
		}
	}
	return false
}
