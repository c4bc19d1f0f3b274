package schema

// The committed schema files (playbook.schema.json, inventory.schema.json)
// are what editors load through the `# yaml-language-server: $schema=` line
// of each shipped playbook. TestJSONSchemaFiles fails when they differ from
// the generated output; `go test ./schema -run TestJSONSchemaFiles -update`
// rewrites them.
