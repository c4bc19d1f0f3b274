package schema

import (
	"encoding/json"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("2m") in
// YAML and JSON. Zero means "not set".
type Duration time.Duration

func (d Duration) String() string {
	if d == 0 {
		return ""
	}
	// time.Duration prints 2m as "2m0s"; show it the way people write it.
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes the duration as its string form, the way it is written
// in a playbook, so JSON plans read like the YAML they came from.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// JSONSchema describes a Go duration string.
func (Duration) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
}
