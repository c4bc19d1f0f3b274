package report

import (
	"fmt"
	"os"
	"path/filepath"
)

// File names inside the state folder.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
)

// WriteFiles writes report.json and report.md into dir (the cluster's state
// folder, created 0700 if missing). Each file is written to a temporary
// name and renamed, so a reader never sees half a report.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	js, err := r.JSON()
	if err != nil {
		return fmt.Errorf("write report: encode json: %w", err)
	}
	for name, content := range map[string][]byte{JSONFile: js, MarkdownFile: r.Markdown()} {
		if err := writeAtomic(filepath.Join(dir, name), content); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

func writeAtomic(path string, content []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
