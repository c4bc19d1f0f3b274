package runner

import (
	"testing"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// An action spentOn does not name counts as the runner's own time, so a
// new action would silently inflate the report's overhead (check-v2store
// did: 0.8 s of a 5-member run's 1.8 s "overhead" was its etcdutl runs).
func TestEveryActionIsClassified(t *testing.T) {
	for _, k := range steps.Kinds() {
		s := &schema.Step{Action: k.Name, Args: k.New()}
		if spentOn(s) == "" {
			t.Errorf("action %q has no time category in spentOn: the report would count its time as runner overhead", k.Name)
		}
	}
}
