package schema_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/internal/golden"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

func generated(t *testing.T) (playbook, inventory []byte) {
	t.Helper()
	p, err := schema.PlaybookJSONSchema(steps.Default())
	if err != nil {
		t.Fatal(err)
	}
	i, err := schema.InventoryJSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	return p, i
}

// TestJSONSchemaFiles: the committed schema files are the generated ones.
func TestJSONSchemaFiles(t *testing.T) {
	p, i := generated(t)
	golden.Check(t, "playbook.schema.json", p)
	golden.Check(t, "inventory.schema.json", i)
}

// TestJSONSchemaCoversGoTypes walks the Go types and the generated schema
// side by side: every yaml key of a Go struct is a property in the schema
// and every property is a Go field, so neither can drift from the other.
func TestJSONSchemaCoversGoTypes(t *testing.T) {
	p, i := generated(t)
	var pb, inv map[string]any
	if err := json.Unmarshal(p, &pb); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(i, &inv); err != nil {
		t.Fatal(err)
	}
	defs := pb["$defs"].(map[string]any)
	compare(t, "playbook", reflect.TypeOf(schema.Playbook{}), pb, defs)
	compare(t, "inventory", reflect.TypeOf(schema.Inventory{}), inv, nil)
	step := defs["step"].(map[string]any)
	stepProps := step["properties"].(map[string]any)
	reg := steps.Default()
	for _, kind := range reg.Kinds() {
		if _, ok := stepProps[kind]; !ok {
			t.Errorf("step schema lacks action %q", kind)
		}
		args, _ := reg.New(kind)
		def := defs["action-"+kind].(map[string]any)
		if alts, ok := def["anyOf"].([]any); ok {
			def = alts[0].(map[string]any)
		}
		compare(t, "action "+kind, reflect.TypeOf(args), def, defs)
	}
	for key := range stepProps {
		if _, isAction := reg.New(key); !isAction && !slices.Contains(schema.Keys(schema.Step{}), key) {
			t.Errorf("step schema has %q, which is neither an action nor a step key", key)
		}
	}
	if n := len(step["oneOf"].([]any)); n != len(reg.Kinds()) {
		t.Errorf("step oneOf has %d alternatives, want one per action (%d)", n, len(reg.Kinds()))
	}
}

// compare checks one struct type against one object schema, recursively
// for nested structs.
func compare(t *testing.T, where string, typ reflect.Type, s map[string]any, defs map[string]any) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if ref, ok := s["$ref"].(string); ok {
		s = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
	}
	props, _ := s["properties"].(map[string]any)
	goKeys := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(typ) {
		tag := f.Tag.Get("yaml")
		if !f.IsExported() || tag == "-" || (f.Anonymous && tag == ",inline") {
			continue // an embedded struct's keys are its fields'
		}
		if tag == "" {
			t.Errorf("%s: Go field %s has no yaml tag, so neither the decoder nor the schema knows its key", where, f.Name)
			continue
		}
		goKeys[tag] = f.Type
	}
	for key, ft := range goKeys {
		ps, ok := props[key].(map[string]any)
		if !ok {
			t.Errorf("%s: Go key %q is missing from the schema", where, key)
			continue
		}
		if st := structOf(ft); st != nil && st != reflect.TypeOf(schema.Step{}) {
			if items, ok := ps["items"].(map[string]any); ok {
				ps = items
			}
			if ap, ok := ps["additionalProperties"].(map[string]any); ok {
				ps = ap
			}
			compare(t, where+"."+key, st, ps, defs)
		}
	}
	for key := range props {
		if _, ok := goKeys[key]; !ok {
			t.Errorf("%s: schema property %q has no Go field", where, key)
		}
	}
}

// structOf returns the struct type a field holds (through pointers, slices
// and maps) when it is one the schema describes as an object.
func structOf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	if _, self := reflect.New(t).Interface().(schema.JSONSchemaer); self {
		return nil
	}
	return t
}

// TestJSONSchemaValidatesShippedFiles runs a real JSON Schema validator
// over every shipped playbook and example inventory (they must pass) and
// over a few broken files (they must fail), so the schema agrees with the
// loader on both sides.
func TestJSONSchemaValidatesShippedFiles(t *testing.T) {
	c := jsonschema.NewCompiler()
	for _, name := range []string{"playbook.schema.json", "inventory.schema.json"} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustRead(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(name, doc); err != nil {
			t.Fatal(err)
		}
	}
	pbSchema, err := c.Compile("playbook.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	invSchema, err := c.Compile("inventory.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(file string) error {
		src := mustRead(t, file)
		var v any
		if err := yaml.Unmarshal(src, &v); err != nil {
			return err
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		if schema.DetectKind(src) == schema.KindInventory {
			return invSchema.Validate(doc)
		}
		return pbSchema.Validate(doc)
	}
	good, _ := filepath.Glob("../playbooks/*.yaml")
	more, _ := filepath.Glob("../examples/*.yaml")
	for _, f := range append(good, more...) {
		if err := validate(f); err != nil {
			t.Errorf("%s does not validate against its JSON Schema: %v", f, err)
		}
	}
	// Broken files the schema alone can tell apart (no guards, no cross-field rules).
	bad := []string{
		"pb-unknown-top-key", "pb-unknown-action", "pb-two-actions", "pb-no-action", "pb-timeout-type",
		"pb-bad-duration", "pb-negative-retries", "pb-bad-version-pattern", "pb-unknown-order",
		"pb-step-not-mapping", "pb-when-inside-args", "pb-missing-required", "pb-check-without-that",
		"inv-api-v4", "inv-bad-sha256", "inv-release-key-not-exact", "inv-missing-cluster",
		"inv-missing-members", "inv-unknown-key-member", "inv-ssh-port-type",
	}
	sort.Strings(bad)
	for _, b := range bad {
		if err := validate("testdata/invalid/" + b + ".yaml"); err == nil {
			t.Errorf("%s passes the JSON Schema, but the loader rejects it", b)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
