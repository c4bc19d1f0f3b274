package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadPlaybook decodes and validates a playbook. On any problem it returns
// the playbook decoded so far and an ErrorList holding every problem,
// sorted by position.
func LoadPlaybook(file string, src []byte, actions ActionSet) (*Playbook, error) {
	d := newDecoder(file, src, actions)
	root := d.parse(src, "playbook")
	if root == nil {
		return nil, d.Errors()
	}
	p := d.decodePlaybook(root)
	return p, d.Errors().Err()
}

// LoadInventory decodes and validates an inventory, like LoadPlaybook.
func LoadInventory(file string, src []byte) (*Inventory, error) {
	d := newDecoder(file, src, nil)
	root := d.parse(src, "inventory")
	if root == nil {
		return nil, d.Errors()
	}
	inv := d.decodeInventory(root)
	return inv, d.Errors().Err()
}

// LoadFile loads src as whichever it is, told apart by DetectKind: it
// returns a *Playbook or an *Inventory. A file that is neither gets its
// syntax errors, or one error saying it is neither.
func LoadFile(file string, src []byte, actions ActionSet) (Kind, any, error) {
	switch DetectKind(src) {
	case KindPlaybook:
		p, err := LoadPlaybook(file, src, actions)
		return KindPlaybook, p, err
	case KindInventory:
		inv, err := LoadInventory(file, src)
		return KindInventory, inv, err
	}
	d := newDecoder(file, src, actions)
	if root := d.parse(src, "playbook or inventory"); root != nil {
		d.ErrorAt(d.Pos(root), "a playbook starts with `playbook:`, an inventory with `cluster:`",
			"cannot tell a playbook from an inventory")
	}
	return KindUnknown, nil, d.Errors()
}

// Kind of file, told apart by its top-level key.
type Kind string

// The kinds of file etcdplay reads.
const (
	KindPlaybook  Kind = "playbook"
	KindInventory Kind = "inventory"
	KindUnknown   Kind = ""
)

// DetectKind tells a playbook (`playbook:` at the top) from an inventory
// (`cluster:`). It reads only the top-level keys.
func DetectKind(src []byte) Kind {
	var n yaml.Node
	if err := safeUnmarshal(src, &n); err != nil || len(n.Content) == 0 {
		return KindUnknown
	}
	root := resolve(n.Content[0])
	if root == nil || root.Kind != yaml.MappingNode {
		return KindUnknown
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "playbook", "preflight", "finish", "rollback":
			return KindPlaybook
		case "cluster", "releases":
			return KindInventory
		}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i].Value; k == "members" {
			// Only a playbook's members is a mapping.
			if resolve(root.Content[i+1]).Kind == yaml.MappingNode {
				return KindPlaybook
			}
			return KindInventory
		}
	}
	return KindUnknown
}

var yamlLineRe = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parse reads src as one YAML document whose top is a mapping, reporting
// syntax errors at their line.
func (d *Decoder) parse(src []byte, what string) *yaml.Node {
	if len(src) > MaxFileSize {
		d.ErrorAt(Pos{1, 1}, "a playbook or inventory is a few kilobytes; is this the right file?", "file is %d bytes, over the %d-byte limit", len(src), MaxFileSize)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := safeDecode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.ErrorAt(Pos{1, 1}, startHint(what), "file is empty: expected %s", article(what))
			return nil
		}
		d.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := safeDecode(dec, &extra); err == nil {
		d.ErrorAt(d.Pos(&extra), "put each "+what+" in its own file", "a file holds one %s, found a second YAML document", what)
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
	}
	if len(doc.Content) == 0 {
		d.ErrorAt(Pos{1, 1}, "", "file is empty: expected %s", article(what))
		return nil
	}
	root := resolve(doc.Content[0])
	if IsNull(root) {
		d.ErrorAt(d.Pos(root), "", "file holds no %s, only null", what)
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.Errorf(root, "%s must be a mapping of keys, got %s", article(what), kindName(root))
		return nil
	}
	return root
}

// startHint says how the expected kind of file begins.
func startHint(what string) string {
	switch what {
	case "inventory":
		return "an inventory starts with `cluster:`"
	case "playbook":
		return "a playbook starts with `playbook:`"
	}
	return "a playbook starts with `playbook:`, an inventory with `cluster:`"
}

// yamlError turns a yaml.v3 syntax error ("yaml: line 3: ...") into a
// positioned Error. yaml.v3 gives no column, so it points at the line.
func (d *Decoder) yamlError(err error) {
	msg := err.Error()
	line := 1
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			line, _ = strconv.Atoi(m[1])
		}
		msg = m[2]
	}
	if line < 1 {
		line = 1
	}
	var hint string
	if strings.Contains(msg, "tab") || (line <= len(d.lines) && strings.HasPrefix(strings.TrimLeft(d.lines[line-1], " "), "\t")) {
		hint = "YAML indents with spaces, never tabs"
	}
	d.ErrorAt(Pos{line, 1}, hint, "invalid YAML: %s", msg)
}

// safeDecode guards against panics in the YAML parser on hostile input:
// a malformed file must be a load error, never a crash.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

func safeUnmarshal(src []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return yaml.Unmarshal(src, n)
}

func article(what string) string {
	if what == "inventory" {
		return "an inventory"
	}
	return "a " + what
}
