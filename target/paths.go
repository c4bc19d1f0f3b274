package target

import (
	"os"
	"path/filepath"
	"strings"
)

// resolvePath expands a leading ~ to home (the operator's home when home is
// "") and joins a relative path to dir, the inventory's folder, so an
// inventory means the same files whatever folder etcdplay runs in.
func resolvePath(p, dir, home string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		p = filepath.Join(home, strings.TrimPrefix(p[1:], "/"))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p)
}
