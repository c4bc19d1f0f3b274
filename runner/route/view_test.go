package route

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/etcdplay/etcdplay/internal/golden"
)

// The three views of one route: text for people, JSON for machines,
// markdown for a pull request (testdata/view.*; -update rewrites them).
func TestViews(t *testing.T) {
	r, err := Plan(fake, live("3.5.0", "3.5.21", "3.5.33", "3.5.21"), versions("3.5.21", "3.5.33", "3.6.14", "3.7.1"), Target{Minor: minor("3.7")})
	if err != nil {
		t.Fatal(err)
	}
	r.Cluster = "prod-etcd"
	for ext, write := range map[string]func(*bytes.Buffer, *Route) error{
		"txt":  func(b *bytes.Buffer, r *Route) error { return WriteText(b, r) },
		"json": func(b *bytes.Buffer, r *Route) error { return WriteJSON(b, r) },
		"md":   func(b *bytes.Buffer, r *Route) error { return WriteMarkdown(b, r) },
	} {
		var b bytes.Buffer
		if err := write(&b, r); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", "view."+ext), b.Bytes())
	}
}
