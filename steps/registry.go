package steps

import (
	"fmt"
	"sort"

	"github.com/etcdplay/etcdplay/schema"
)

// Kind registers one action: its name and a constructor of empty arguments.
type Kind struct {
	Name string
	New  func() Action
}

// Registry is a set of action kinds. It implements schema.ActionSet, which
// is how the loader decodes steps without importing this package.
type Registry struct {
	kinds map[string]func() Action
	names []string
}

// NewRegistry builds a registry from kinds. A duplicate name, or a
// constructor whose Kind() disagrees with its name, is a programming error
// and panics, the way database/sql.Register does.
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{kinds: map[string]func() Action{}}
	for _, k := range kinds {
		if _, dup := r.kinds[k.Name]; dup {
			panic(fmt.Sprintf("steps: action %q registered twice", k.Name))
		}
		if got := k.New().Kind(); got != k.Name {
			panic(fmt.Sprintf("steps: action registered as %q says its kind is %q", k.Name, got))
		}
		r.kinds[k.Name] = k.New
		r.names = append(r.names, k.Name)
	}
	sort.Strings(r.names)
	return r
}

// Kinds lists the action names, sorted.
func (r *Registry) Kinds() []string { return append([]string(nil), r.names...) }

// New returns empty arguments for kind.
func (r *Registry) New(kind string) (schema.Args, bool) {
	a, ok := r.Action(kind)
	return a, ok
}

// Action returns empty arguments for kind as an Action.
func (r *Registry) Action(kind string) (Action, bool) {
	f, ok := r.kinds[kind]
	if !ok {
		return nil, false
	}
	return f(), true
}

var defaultRegistry = NewRegistry(Kinds()...)

// Default is the registry of every shipped action.
func Default() *Registry { return defaultRegistry }
