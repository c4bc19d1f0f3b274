package steps

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/etcdplay/etcdplay/schema"
)

// binVersionRe reads the version an etcd tool prints: "etcd Version:
// 3.5.35" (2.1+ and 3.x), "etcd version 2.0.8" (2.0), "etcdctl version:
// 3.5.35", "etcdutl version: 3.5.35".
var binVersionRe = regexp.MustCompile(`(?m)^(etcd|etcdctl|etcdutl) [Vv]ersion:? v?(\d+)\.(\d+)\.(\d+)`)

// parseBinVersion reads the version from a tool's --version output.
func parseBinVersion(out []byte) (schema.Version, error) {
	m := binVersionRe.FindSubmatch(out)
	if m == nil {
		return schema.Version{}, fmt.Errorf("no version in %q", clipOut(out))
	}
	a, _ := strconv.Atoi(string(m[2]))
	b, _ := strconv.Atoi(string(m[3]))
	c, _ := strconv.Atoi(string(m[4]))
	return schema.Version{Major: a, Minor: b, Patch: c}, nil
}

// reportedVersion reads a version as etcd reports it over the API
// ("3.5.35", "3.6.0-rc.1"); ok is false for "" or "not_decided".
func reportedVersion(s string) (schema.Version, bool) {
	m := reportedVersionRe.FindStringSubmatch(s)
	if m == nil {
		return schema.Version{}, false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return schema.Version{Major: a, Minor: b, Patch: c}, true
}

var reportedVersionRe = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`)

func clipOut(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
