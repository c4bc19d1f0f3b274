package schema

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Decoder carries one file's source and collects the problems found while
// decoding it. Every type decodes itself through it, and so do the action
// argument types in package steps, so all of them report errors the same way.
type Decoder struct {
	file    string
	lines   []string
	errs    ErrorList
	actions ActionSet
	// inArgs names the action whose arguments are being decoded, so that a
	// step key written inside them (when, name...) gets a precise hint.
	inArgs string
}

func newDecoder(file string, src []byte, actions ActionSet) *Decoder {
	return &Decoder{file: file, lines: strings.Split(string(src), "\n"), actions: actions}
}

// Errors returns what was found so far, sorted.
func (d *Decoder) Errors() ErrorList {
	d.errs.Sort()
	return d.errs
}

// Pos is n's position.
func (d *Decoder) Pos(n *yaml.Node) Pos {
	if n == nil || n.Line < 1 {
		return Pos{Line: 1, Col: 1}
	}
	c := n.Column
	if c < 1 {
		c = 1
	}
	return Pos{Line: n.Line, Col: c}
}

// ErrorAt records a problem at p with an optional hint.
func (d *Decoder) ErrorAt(p Pos, hint, format string, args ...any) {
	if p.Line < 1 {
		p.Line = 1
	}
	if p.Col < 1 {
		p.Col = 1
	}
	e := &Error{File: d.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...), Hint: hint}
	if p.Line <= len(d.lines) {
		e.Source = strings.TrimRight(d.lines[p.Line-1], "\r")
	}
	d.errs = append(d.errs, e)
}

// Errorf records a problem at n.
func (d *Decoder) Errorf(n *yaml.Node, format string, args ...any) {
	d.ErrorAt(d.Pos(n), "", format, args...)
}

// Hintf records a problem at n with a hint saying what to do instead.
func (d *Decoder) Hintf(n *yaml.Node, hint, format string, args ...any) {
	d.ErrorAt(d.Pos(n), hint, format, args...)
}

// resolve follows aliases so that anchors work everywhere a value does.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is absent or an explicit null (`key:` or `~`).
func IsNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!int":
			return "a number"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		}
		return fmt.Sprintf("the string %q", n.Value)
	}
	return "an unexpected node"
}

// Keys returns the YAML keys of struct v's fields, from their `yaml` tags,
// including those of embedded structs (Overrides). Decoders, the
// unknown-key check and the JSON Schema all use it, so the accepted keys
// and the schema cannot drift apart.
func Keys(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	for _, f := range reflect.VisibleFields(t) {
		if k := yamlKey(f); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func yamlKey(f reflect.StructField) string {
	tag, ok := f.Tag.Lookup("yaml")
	if !ok || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// Fields walks mapping n whose allowed keys are the yaml tags of v (a struct
// or pointer to one). It reports a non-mapping, duplicate keys and unknown
// keys (with a "did you mean"), and calls fn for every known key in source
// order. what names the thing for messages ("playbook", "swap"). A null n is
// an empty mapping. It returns false when n is not a mapping at all.
func (d *Decoder) Fields(n *yaml.Node, what string, v any, fn func(key string, val *yaml.Node)) bool {
	n = resolve(n)
	if IsNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "%s must be a mapping, got %s", what, kindName(n))
		return false
	}
	known := Keys(v)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.Errorf(k, "%s: keys must be plain words, got %s", what, kindName(k))
			continue
		}
		key := k.Value
		if seen[key] {
			d.Errorf(k, "%s: key %q is repeated", what, key)
			continue
		}
		seen[key] = true
		if !slices.Contains(known, key) {
			d.unknownKey(k, what, key, known)
			continue
		}
		fn(key, val)
	}
	return true
}

func (d *Decoder) unknownKey(k *yaml.Node, what, key string, known []string) {
	hint := didYouMean(key, known)
	if d.inArgs != "" && slices.Contains(Keys(Step{}), key) {
		hint = fmt.Sprintf("%q belongs to the step: write it beside %q, not inside its arguments", key, d.inArgs)
	}
	switch {
	case hint != "":
	case len(known) == 0:
		hint = what + " takes no arguments: write `" + what + ": {}`"
	default:
		hint = "known keys: " + strings.Join(known, ", ")
	}
	d.Hintf(k, hint, "unknown key %q in %s", key, what)
}

// Require reports, in one message at n (the mapping that lacks them), the
// keys of keys that set does not hold.
func (d *Decoder) Require(n *yaml.Node, what string, set map[string]bool, keys ...string) {
	var missing []string
	for _, k := range keys {
		if !set[k] {
			missing = append(missing, strconv.Quote(k))
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		d.Errorf(n, "%s: missing required key %s", what, missing[0])
	default:
		d.Errorf(n, "%s: missing required keys %s", what, strings.Join(missing, ", "))
	}
}

// scalar returns n as a scalar, reporting anything else.
func (d *Decoder) scalar(n *yaml.Node, what string) (*yaml.Node, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.Errorf(n, "%s must be a single value, got %s", what, kindName(n))
		return nil, false
	}
	return n, true
}

// String decodes a scalar as text. Numbers are accepted as written (so a
// port in a command stays as typed); null and collections are errors.
func (d *Decoder) String(n *yaml.Node, what string) string {
	s, ok := d.scalar(n, what)
	if !ok {
		return ""
	}
	if s.Tag == "!!bool" {
		d.Hintf(s, "quote it if you mean the text", "%s must be a string, got the boolean %s", what, s.Value)
		return ""
	}
	return s.Value
}

// NonEmpty is String that also refuses the empty string.
func (d *Decoder) NonEmpty(n *yaml.Node, what string) string {
	s := d.String(n, what)
	if s == "" && !d.lastWasAt(n) {
		d.Errorf(n, "%s must not be empty", what)
	}
	return s
}

// lastWasAt reports whether the newest error is at n already, so that one
// mistake does not produce two messages.
func (d *Decoder) lastWasAt(n *yaml.Node) bool {
	if len(d.errs) == 0 {
		return false
	}
	p, e := d.Pos(resolve(n)), d.errs[len(d.errs)-1]
	return e.Line == p.Line && e.Col == p.Col
}

// Int decodes an integer.
func (d *Decoder) Int(n *yaml.Node, what string) int {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	if s.Tag != "!!int" {
		d.Errorf(s, "%s must be a whole number, got %s", what, kindName(s))
		return 0
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s.Value, "_", ""), 0, 32)
	if err != nil {
		d.Errorf(s, "%s: %q is out of range", what, s.Value)
		return 0
	}
	return int(v)
}

// Bool decodes true or false.
func (d *Decoder) Bool(n *yaml.Node, what string) bool {
	s, ok := d.scalar(n, what)
	if !ok {
		return false
	}
	if s.Tag != "!!bool" {
		d.Errorf(s, "%s must be true or false, got %s", what, kindName(s))
		return false
	}
	return s.Value == "true" || s.Value == "True" || s.Value == "TRUE"
}

// Duration decodes a Go duration such as 90s or 2m, which must be positive.
func (d *Decoder) Duration(n *yaml.Node, what string) Duration {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	v, err := time.ParseDuration(s.Value)
	if err != nil {
		d.Hintf(s, "write a Go duration such as 30s, 2m or 1h30m", "%s: %q is not a duration", what, s.Value)
		return 0
	}
	if v <= 0 {
		d.Errorf(s, "%s must be positive, got %s", what, s.Value)
		return 0
	}
	if v > MaxTimeout {
		d.Errorf(s, "%s: %s is longer than the %s a step may take", what, s.Value, MaxTimeout)
		return 0
	}
	return Duration(v)
}

// Enum decodes one of choices, with a "did you mean" for near misses.
func (d *Decoder) Enum(n *yaml.Node, what string, choices ...string) string {
	s := d.String(n, what)
	if s == "" && d.lastWasAt(n) {
		return ""
	}
	if !slices.Contains(choices, s) {
		hint := didYouMean(s, choices)
		if hint == "" {
			hint = "one of: " + strings.Join(choices, ", ")
		}
		d.Hintf(resolve(n), hint, "%s: %q is not one of %s", what, s, strings.Join(choices, ", "))
		return ""
	}
	return s
}

// StringList decodes a list of strings.
func (d *Decoder) StringList(n *yaml.Node, what string) []string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.Errorf(n, "%s must be a list, got %s", what, kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, d.String(c, what+" item"))
	}
	return out
}

// StringMap decodes a mapping of strings to strings.
func (d *Decoder) StringMap(n *yaml.Node, what string) map[string]string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.Errorf(n, "%s must be a mapping, got %s", what, kindName(n))
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.String(n.Content[i], what+" key")
		out[k] = d.String(n.Content[i+1], what+"."+k)
	}
	return out
}

// Any decodes a free-form value (vars) into plain Go values.
func (d *Decoder) Any(n *yaml.Node, what string) (v any) {
	defer func() {
		if r := recover(); r != nil {
			d.Errorf(n, "%s: %v", what, r)
			v = nil
		}
	}()
	if err := resolve(n).Decode(&v); err != nil {
		d.Errorf(n, "%s: %v", what, err)
		return nil
	}
	return v
}

// Vars decodes a mapping of free-form values, keyed by identifiers that
// guards can read as vars.NAME.
func (d *Decoder) Vars(n *yaml.Node) map[string]any {
	n = resolve(n)
	if IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "vars must be a mapping, got %s", kindName(n))
		return nil
	}
	out := map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode || !isIdent(k.Value) {
			d.Hintf(k, "guards read vars as vars.NAME, so a name is letters, digits and _", "vars: %q is not a valid name", k.Value)
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.Errorf(k, "vars: key %q is repeated", k.Value)
			continue
		}
		out[k.Value] = d.Any(n.Content[i+1], "vars."+k.Value)
	}
	return out
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

// Resolve follows aliases; actions use it before looking at a node's kind
// for their short forms.
func Resolve(n *yaml.Node) *yaml.Node { return resolve(n) }

// IsScalar reports whether n is a non-null scalar: an action's short form.
func IsScalar(n *yaml.Node) bool {
	n = resolve(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null"
}
