// Package atomicfile writes a file so that a crash leaves either the old
// content or the new, never a torn one: write a temporary file beside it,
// fsync it, rename it over the target, fsync the folder. State that resume
// and rollback read back (run.json, backup.json, reports) goes through it.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, mode perm. Every error is returned; the
// temporary file is removed on failure.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir makes the rename itself durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
