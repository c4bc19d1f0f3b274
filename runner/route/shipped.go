package route

import (
	"fmt"

	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// Shipped is the catalogue of the embedded playbooks, each loaded as a run
// would load it.
func Shipped() (Catalogue, error) {
	var cat Catalogue
	for _, name := range playbooks.Names() {
		src, path, err := playbooks.Read(name)
		if err != nil {
			return nil, err
		}
		pb, err := schema.LoadPlaybook(path, src, steps.Default())
		if err != nil {
			return nil, fmt.Errorf("shipped playbook %s: %w", name, err)
		}
		cat = append(cat, EntryOf(name, pb))
	}
	return cat, nil
}
