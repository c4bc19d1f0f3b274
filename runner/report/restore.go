package report

import (
	"fmt"
	"strings"

	"github.com/etcdplay/etcdplay/steps"
)

// Restore is what a restore report adds (docs/restore.md): the backup the
// cluster came back from, the data dirs set aside, and what the cluster
// held once it answered again.
type Restore struct {
	Backup  steps.BackupManifest `json:"backup"`
	Version string               `json:"version"` // the etcd every member started on
	Token   string               `json:"token"`   // the new cluster token
	// SetAside maps each member to where its old data dir now is ("" when
	// it had none left).
	SetAside map[string]string `json:"set_aside"`
	// KeysAfter and RevisionAfter are counted from a snapshot of the
	// restored cluster; 0 until the final wait passed.
	KeysAfter     int   `json:"keys_after"`
	RevisionAfter int64 `json:"revision_after"`
}

func (x *Restore) markdown(b *strings.Builder, members []string) {
	b.WriteString("\n## Restore\n\n| | |\n|---|---|\n")
	row(b, "snapshot", "`"+x.Backup.File+"`")
	row(b, "sha256", x.Backup.SHA256)
	row(b, "revision", fmt.Sprint(x.Backup.Revision))
	row(b, "keys", fmt.Sprint(x.Backup.Keys))
	row(b, "taken", clock(x.Backup.Time, true)+" from "+cell(x.Backup.Member)+" on "+cell(x.Backup.ServerVersion))
	row(b, "started on", "etcd "+x.Version)
	row(b, "new cluster token", x.Token)
	after := "not counted (the restore did not finish)"
	if x.RevisionAfter > 0 {
		after = fmt.Sprintf("%d keys at revision %d", x.KeysAfter, x.RevisionAfter)
	}
	row(b, "after", after)
	b.WriteString("\n| member | data dir set aside at |\n|---|---|\n")
	for _, m := range members {
		if a, ok := x.SetAside[m]; ok {
			row(b, m, cellOr("`"+a+"`", a != "", "none (no data dir was left)"))
		}
	}
}

func cellOr(s string, ok bool, otherwise string) string {
	if ok {
		return s
	}
	return otherwise
}
