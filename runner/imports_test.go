package runner

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The runner takes interfaces only (docs/architecture.md, "Wiring lives in
// one place"): no file of it imports a transport, the etcd client, the
// probe or target. steps names what the runner needs of their types.
func TestRunnerImportsNoTransport(t *testing.T) {
	forbidden := []string{
		"go.etcd.io/etcd/client/v3",
		"github.com/etcdplay/etcdplay/transport/",
		"github.com/etcdplay/etcdplay/etcdprobe",
		"github.com/etcdplay/etcdplay/target",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if strings.HasPrefix(path, bad) {
					t.Errorf("%s imports %s: the runner takes interfaces (steps, runner.Locker); wire the real thing in cmd/etcdplay", f, path)
				}
			}
		}
	}
}
