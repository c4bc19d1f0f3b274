package runner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdplay/etcdplay/internal/atomicfile"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/report"
	"github.com/etcdplay/etcdplay/steps"
)

// EventsFile keeps every event of every run in the state folder, one JSON
// object a line (the -o json format).
const EventsFile = "events.jsonl"

// runEvents are the events the report is built from: for a run or a
// resume, every event of this run id in events.jsonl (so a resumed run's
// timeline starts at its first start); for a rollback, or when the file
// cannot be read, the events of this process.
func (r *run) runEvents() []events.Event {
	mine := r.rec.Events()
	if r.mode == modeRollback {
		return mine
	}
	f, err := os.Open(filepath.Join(r.o.StateDir, EventsFile))
	if err != nil {
		return mine
	}
	defer f.Close()
	var out []events.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		var e events.Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.RunID != r.id {
			continue
		}
		out = append(out, e)
	}
	if sc.Err() != nil || len(out) < len(mine) {
		return mine
	}
	return out
}

// MetaFile is the run's description in the state folder: what resume needs
// to find the playbook and inventory the run started with.
const MetaFile = "run.json"

// Meta is run.json.
type Meta struct {
	RunID           string    `json:"run_id"`
	Cluster         string    `json:"cluster"`
	Playbook        string    `json:"playbook"`      // its name
	PlaybookPath    string    `json:"playbook_path"` // as given: a path or a shipped name
	InventoryPath   string    `json:"inventory_path"`
	PlaybookDigest  string    `json:"playbook_digest"`
	InventoryDigest string    `json:"inventory_digest"`
	Started         time.Time `json:"started"`
	// Route is set for `etcdplay upgrade --to`: every hop's playbook (as
	// given, with its digest) in order, and Hop, the 1-based hop running
	// (Playbook* above describe that hop). resume continues the route.
	Route []MetaHop `json:"route,omitempty"`
	Hop   int       `json:"hop,omitempty"`
	// Target is the route's --to.
	Target string `json:"target,omitempty"`
	// Restore is the plan of a restore run (docs/restore.md): resume runs
	// it again as confirmed.
	Restore *steps.RestorePlan `json:"restore,omitempty"`
}

// MetaHop is one hop of a route in run.json.
type MetaHop struct {
	PlaybookPath   string `json:"playbook_path"`
	PlaybookDigest string `json:"playbook_digest"`
}

func (r *run) meta() Meta {
	m := Meta{RunID: r.id, Cluster: r.inv.Cluster, Playbook: r.pb.Name, PlaybookPath: r.o.PlaybookPath,
		InventoryPath: r.o.InventoryPath, PlaybookDigest: r.o.PlaybookDigest, InventoryDigest: r.o.InventoryDigest,
		Started: r.o.now().UTC(), Restore: r.restorePlan}
	if rt := r.o.route; rt != nil {
		m.Hop, m.Target = rt.hop, rt.target
		for _, h := range rt.hops {
			m.Route = append(m.Route, MetaHop{PlaybookPath: h.PlaybookPath, PlaybookDigest: h.PlaybookDigest})
		}
	}
	return m
}

func writeMeta(dir string, m Meta) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return atomicfile.Write(filepath.Join(dir, MetaFile), append(b, '\n'), 0o600)
}

// ReadMeta reads run.json from a state folder.
func ReadMeta(dir string) (*Meta, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, MetaFile), err)
	}
	return &m, nil
}

// writeReport builds the run report from this run's events and writes
// report.md and report.json into the state folder.
func (r *run) writeReport() (string, error) {
	before, after := map[string]string{}, map[string]string{}
	for _, n := range r.names {
		before[n] = r.members[n].Before
		after[n] = r.members[n].After
	}
	jpath := ""
	if r.j != nil {
		jpath = r.j.Path()
	}
	evs := r.runEvents()
	var restore *report.Restore
	if r.restorePlan != nil {
		restore = r.restoreReport(evs)
	}
	rep := report.Build(evs, report.Extra{Restore: restore, Cluster: r.inv.Cluster, Playbook: r.o.route.title(r.pb.Name), Members: r.names,
		VersionsBefore: before, VersionsAfter: after, Backups: r.backups, JournalPath: jpath,
		// a rollback's "before" is the version it started from
		BeforeIsExact: r.mode == modeRollback, Done: r.upgradePass().done})
	// Otherwise the report reads "before" from the whole run's events: a
	// resume's probe saw a member mid-upgrade, the run's first look did
	// not. The summary says the same as the report.
	if r.mode != modeRollback {
		for _, m := range rep.Members {
			if rm := r.members[m.Name]; rm != nil && m.VersionBefore != "" {
				rm.Before = m.VersionBefore
			}
		}
	}
	// A rollback's report goes beside the run's, not over it.
	dir := r.o.StateDir
	switch r.mode {
	case modeRollback:
		dir = filepath.Join(dir, "rollback")
	case modeRestore:
		dir = filepath.Join(dir, "restore")
	}
	if err := rep.WriteFiles(dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, report.MarkdownFile), nil
}
