// Package playbooks embeds the shipped playbooks, one YAML file per
// upgrade guide, named FROM-to-TO.yaml for a minor upgrade and
// MINOR-patch.yaml for a patch upgrade within a minor (Name).
package playbooks
