package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Inventories expands the -i arguments into inventory files: a file stays
// itself, a folder gives its *.yaml and *.yml files (not its subfolders),
// sorted by name. Several means a fleet: more than one file, or any folder
// (a folder of one inventory is a fleet of one, rendered as one). A file
// named twice is kept once.
func Inventories(args []string) (files []string, several bool, err error) {
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[filepath.Clean(f)] {
			seen[filepath.Clean(f)] = true
			files = append(files, f)
		}
	}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			add(a) // a missing file is the loader's error, with its usual words
			continue
		}
		several = true
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, false, fmt.Errorf("read inventory folder %s: %w", a, errors.Unwrap(err))
		}
		var found []string
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.Type().IsRegular() && (ext == ".yaml" || ext == ".yml") {
				found = append(found, filepath.Join(a, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, false, fmt.Errorf("inventory folder %s holds no .yaml or .yml file", a)
		}
		slices.Sort(found)
		for _, f := range found {
			add(f)
		}
	}
	return files, several || len(files) > 1, nil
}
