package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FileName is the journal's name inside the state folder.
const FileName = "journal.jsonl"

// DefaultRoot is where state folders live unless the operator says
// otherwise: ./.etcdplay/<cluster>/.
const DefaultRoot = ".etcdplay"

// StateDir is the state folder of cluster under root. The cluster name
// comes from the inventory and becomes one path element, so names that
// would climb out of root or nest folders are refused.
func StateDir(root, cluster string) (string, error) {
	if cluster == "" || cluster == "." || cluster == ".." || strings.ContainsAny(cluster, `/\`) || strings.ContainsRune(cluster, 0) {
		return "", fmt.Errorf("state folder for cluster %q: the name must be one path element", cluster)
	}
	return filepath.Join(root, cluster), nil
}

// Journal appends records to a state folder's journal.jsonl. It is safe for
// concurrent use.
type Journal struct {
	path     string
	fsys     fileSystem
	mu       sync.Mutex
	f        syncFile
	warnings []string
}

// syncFile is the part of *os.File the journal uses; tests wrap it to see
// every Sync.
type syncFile interface {
	io.Writer
	Sync() error
	Close() error
}

// fileSystem is the few file operations Open needs, so tests can count the
// fsyncs without a special kernel.
type fileSystem interface {
	openAppend(path string) (syncFile, error)
	syncDir(dir string) error
}

type osFS struct{}

func (osFS) openAppend(path string) (syncFile, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// syncDir makes a new directory entry durable: without it a crash right
// after creating journal.jsonl can lose the file itself, not just its data.
func (osFS) syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open opens (creating it, mode 0700, if needed) the state folder dir and
// its journal for appending. A torn last line left by a crash is cut off,
// so that the next record starts on a line of its own; Warnings says so.
func Open(dir string) (*Journal, error) { return open(dir, osFS{}) }

func open(dir string, fsys fileSystem) (*Journal, error) {
	j := &Journal{path: filepath.Join(dir, FileName), fsys: fsys}
	if err := mkdirDurable(dir, fsys); err != nil {
		return nil, fmt.Errorf("journal: create state folder %s: %w", dir, err)
	}
	needsNewline, err := j.repairTail()
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(j.path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := fsys.openAppend(j.path)
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", j.path, err)
	}
	j.f = f
	if created {
		if err := fsys.syncDir(dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: sync state folder %s: %w", dir, err)
		}
	}
	if needsNewline {
		if err := j.writeSync([]byte("\n")); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: end the last line of %s: %w", j.path, err)
		}
	}
	return j, nil
}

// mkdirDurable creates dir with mode 0700 (the journal names hosts and
// paths of a production cluster) and syncs each parent it added an entry to.
func mkdirDurable(dir string, fsys fileSystem) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a folder", dir)
		}
		return nil
	}
	if err := mkdirDurable(filepath.Dir(dir), fsys); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return fsys.syncDir(filepath.Dir(dir))
}

// repairTail cuts a torn last line off the journal. It reports whether the
// file ends with a complete record lacking only its newline, which Open
// then adds.
func (j *Journal) repairTail() (needsNewline bool, err error) {
	data, err := os.ReadFile(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("journal: read %s: %w", j.path, err)
	}
	p, err := parse(j.path, data)
	if err != nil {
		return false, err
	}
	if p.validEnd < len(data) {
		if err := os.Truncate(j.path, int64(p.validEnd)); err != nil {
			return false, fmt.Errorf("journal: cut the torn last line of %s: %w", j.path, err)
		}
		j.warnings = append(j.warnings, p.warning+"; it was cut off before appending")
	}
	return p.validEnd > 0 && data[p.validEnd-1] != '\n', nil
}

// Path is the journal file's path.
func (j *Journal) Path() string { return j.path }

// Warnings are the problems Open repaired (a torn last line), for the
// runner to show.
func (j *Journal) Warnings() []string { return append([]string(nil), j.warnings...) }

// Append writes r as one line and fsyncs the file before returning: once
// Append returns nil, the record survives a crash. Time defaults to now.
// Detail is redacted.
func (j *Journal) Append(r Record) error {
	if r.RunID == "" || r.Kind == "" {
		return fmt.Errorf("journal: record without run id or kind: %+v", r)
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC()
	b, err := json.Marshal(r.redacted())
	if err != nil {
		return fmt.Errorf("journal: encode %s record: %w", r.Kind, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("journal: append to %s: closed", j.path)
	}
	if err := j.writeSync(append(b, '\n')); err != nil {
		return fmt.Errorf("journal: append %s record to %s: %w", r.Kind, j.path, err)
	}
	return nil
}

// writeSync writes b in one call, so a crash tears at most the last line,
// then fsyncs.
func (j *Journal) writeSync(b []byte) error {
	if _, err := j.f.Write(b); err != nil {
		return err
	}
	return j.f.Sync()
}

// Close closes the journal file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
