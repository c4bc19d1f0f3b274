package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// JSON Schema (draft 2020-12) generated from the Go types, so that editors
// check playbooks with the same rules the loader applies. It is a small
// reflection walker rather than a library: our types decode themselves
// (custom Minor/Pattern/Duration scalars, short forms, one-action steps)
// and a generic generator would need a hook on every one of them anyway.
//
// The walker reads the same `yaml` tags the decoders use for their allowed
// keys (Keys), plus a `jsonschema` tag for constraints (required, enum=a|b,
// pattern=..., minimum=, maximum=, minItems=, keypattern=version|ident) and
// a `doc` tag for descriptions.

// JSONSchemaer is implemented by types that describe themselves (scalars
// written as strings, such as Minor and Duration).
type JSONSchemaer interface {
	JSONSchema() map[string]any
}

// ShortFormer is implemented by action arguments that also accept a short
// form (`wait: 2m`, `health:`); the schema allows either.
type ShortFormer interface {
	JSONSchemaShortForm() map[string]any
}

const draft = "https://json-schema.org/draft/2020-12/schema"

var (
	schemaerType = reflect.TypeOf((*JSONSchemaer)(nil)).Elem()
	stepType     = reflect.TypeOf(Step{})
	identPattern = `^[A-Za-z_][A-Za-z0-9_]*$`
)

// PlaybookJSONSchema is the JSON Schema of a playbook whose actions are
// those of set.
func PlaybookJSONSchema(set ActionSet) ([]byte, error) {
	g := &gen{defs: map[string]any{}}
	step := g.object(stepType)
	props := step["properties"].(map[string]any)
	var oneOf []any
	for _, kind := range set.Kinds() {
		args, _ := set.New(kind)
		def := g.object(reflect.TypeOf(args))
		def["description"] = "arguments of " + kind
		if sf, ok := args.(ShortFormer); ok {
			def = map[string]any{"anyOf": []any{def, sf.JSONSchemaShortForm()}, "description": "arguments of " + kind}
		}
		g.defs["action-"+kind] = def
		props[kind] = map[string]any{"$ref": "#/$defs/action-" + kind}
		oneOf = append(oneOf, map[string]any{"required": []any{kind}})
	}
	step["oneOf"] = oneOf
	step["description"] = "one action key plus optional name, when, timeout, retries"
	g.defs["step"] = step
	root := g.object(reflect.TypeOf(Playbook{}))
	return g.document(root, "etcdplay playbook", "https://etcdplay.dev/schema/playbook.schema.json")
}

// InventoryJSONSchema is the JSON Schema of an inventory.
func InventoryJSONSchema() ([]byte, error) {
	g := &gen{defs: map[string]any{}}
	root := g.object(reflect.TypeOf(Inventory{}))
	return g.document(root, "etcdplay inventory", "https://etcdplay.dev/schema/inventory.schema.json")
}

type gen struct {
	defs map[string]any
}

func (g *gen) document(root map[string]any, title, id string) ([]byte, error) {
	root["$schema"] = draft
	root["$id"] = id
	root["title"] = title
	if len(g.defs) > 0 {
		root["$defs"] = g.defs
	}
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("json schema: %w", err)
	}
	return append(out, '\n'), nil
}

// object describes struct type t (or a pointer to one) from its yaml tags.
func (g *gen) object(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	props := map[string]any{}
	var required []any
	for _, f := range reflect.VisibleFields(t) {
		key := yamlKey(f)
		if key == "" {
			continue
		}
		props[key] = g.field(f)
		if tagHas(f, "required") {
			required = append(required, key)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// typeOf describes any field type.
func (g *gen) typeOf(t reflect.Type) map[string]any {
	if t == stepType || (t.Kind() == reflect.Pointer && t.Elem() == stepType) {
		return map[string]any{"$ref": "#/$defs/step"}
	}
	if t.Kind() == reflect.Pointer {
		return g.typeOf(t.Elem())
	}
	if t.Implements(schemaerType) {
		return reflect.Zero(t).Interface().(JSONSchemaer).JSONSchema()
	}
	if reflect.PointerTo(t).Implements(schemaerType) {
		return reflect.New(t).Interface().(JSONSchemaer).JSONSchema()
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.typeOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.typeOf(t.Elem())}
	case reflect.Struct:
		return g.object(t)
	case reflect.Interface:
		return map[string]any{}
	}
	panic(fmt.Sprintf("schema: no JSON Schema for Go type %s", t))
}

func (g *gen) field(f reflect.StructField) map[string]any {
	s := g.typeOf(f.Type)
	// Copy so per-field constraints never leak into a shared description.
	c := maps.Clone(s)
	for _, opt := range tagOptions(f) {
		k, v, _ := strings.Cut(opt, "=")
		switch k {
		case "enum":
			var e []any
			for _, x := range strings.Split(v, "|") {
				e = append(e, x)
			}
			c["enum"] = e
		case "pattern":
			c["pattern"] = v
		case "minimum", "maximum", "minItems":
			n, _ := strconv.Atoi(v)
			c[k] = n
		case "keypattern":
			p := identPattern
			if v == "version" {
				p = versionRe.String()
			}
			c["propertyNames"] = map[string]any{"pattern": p}
		}
	}
	if f.Type.Kind() == reflect.Map && c["propertyNames"] == nil && f.Type.Elem().Kind() == reflect.Interface {
		c["propertyNames"] = map[string]any{"pattern": identPattern}
	}
	if d := f.Tag.Get("doc"); d != "" {
		c["description"] = d
	}
	return c
}

func tagOptions(f reflect.StructField) []string {
	tag := f.Tag.Get("jsonschema")
	if tag == "" {
		return nil
	}
	return strings.Split(tag, ",")
}

func tagHas(f reflect.StructField, opt string) bool { return slices.Contains(tagOptions(f), opt) }
