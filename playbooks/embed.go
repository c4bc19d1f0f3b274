package playbooks

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Names lists the shipped playbooks by name ("3.4-to-3.5"), sorted by
// version.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Slice(names, func(i, j int) bool { return versionLess(names[i], names[j]) })
	return names
}

// Name is the shipped playbook that goes from minor from to minor to
// ("3.5", "3.6"): "3.5-to-3.6", or "3.5-patch" when they are the same
// (a patch upgrade to the inventory's newest release of that minor).
func Name(from, to string) string {
	if from == to {
		return from + "-patch"
	}
	return from + "-to-" + to
}

// Read returns a shipped playbook's source and the path it is reported
// under in messages (playbooks/NAME.yaml).
func Read(name string) (src []byte, path string, err error) {
	name = strings.TrimSuffix(name, ".yaml")
	src, err = files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, "", fmt.Errorf("no shipped playbook %q (shipped: %s)", name, strings.Join(Names(), ", "))
	}
	return src, "playbooks/" + name + ".yaml", nil
}

// versionLess orders "2.1-to-2.2" before "3.4-to-3.5" and "3.10-..." after
// "3.9-..."; a minor's patch playbook ("3.5-patch") before its upgrade to
// the next minor ("3.5-to-3.6").
func versionLess(a, b string) bool {
	var a1, a2, b1, b2 int
	fmt.Sscanf(a, "%d.%d", &a1, &a2)
	fmt.Sscanf(b, "%d.%d", &b1, &b2)
	if a1 != b1 {
		return a1 < b1
	}
	if a2 != b2 {
		return a2 < b2
	}
	return a < b
}
