// Package schema holds the playbook and inventory types and their strict
// decoding from YAML.
//
// Playbooks are reviewed like code before they touch a cluster, so every
// type here decodes itself from a *yaml.Node, remembers where it came from,
// and reports every problem it finds (unknown keys with a "did you mean",
// wrong types, missing fields, guards that do not compile) as a positioned
// Error. The loader collects them all into an ErrorList instead of stopping
// at the first, the way go/scanner does.
//
// Action arguments are not decoded here: schema does not know the action
// vocabulary. The loader asks an ActionSet (steps.Registry) to decode them,
// which keeps the dependency pointing one way (steps -> schema).
//
// Guards (`when:` and `check: {that: ...}`) are expr-lang programs compiled
// once at load against the typed Facts struct; evaluating one never compiles.
package schema
