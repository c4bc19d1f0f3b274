// Package playbooks embeds the shipped playbooks, one YAML file per
// upgrade guide, named FROM-to-TO.yaml.
package playbooks
