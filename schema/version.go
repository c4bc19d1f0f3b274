package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Minor is an etcd minor line such as "3.5": what a playbook upgrades from
// and to, and what swap installs.
type Minor struct {
	Major, Minor int
}

var minorRe = regexp.MustCompile(`^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$`)

// ParseMinor parses "X.Y".
func ParseMinor(s string) (Minor, error) {
	m := minorRe.FindStringSubmatch(s)
	if m == nil {
		return Minor{}, fmt.Errorf("%q is not a minor version like \"3.5\"", s)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	return Minor{a, b}, nil
}

func (m Minor) String() string {
	if m.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%d", m.Major, m.Minor)
}

// IsZero reports whether m was never set.
func (m Minor) IsZero() bool                 { return m == Minor{} }
func (m Minor) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// JSONSchema describes "X.Y".
func (Minor) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": minorRe.String()}
}

// Version is an exact release such as "3.5.35".
type Version struct {
	Major, Minor, Patch int
}

var versionRe = regexp.MustCompile(`^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$`)

// ParseVersion parses "X.Y.Z", without pre-release or build suffixes: the
// inventory names released binaries.
func ParseVersion(s string) (Version, error) {
	m := versionRe.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not an exact version like \"3.5.35\"", s)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return Version{a, b, c}, nil
}

func (v Version) String() string {
	if v.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// IsZero reports whether v was never set.
func (v Version) IsZero() bool                 { return v == Version{} }
func (v Version) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

// MinorLine is the minor line v belongs to.
func (v Version) MinorLine() Minor { return Minor{v.Major, v.Minor} }

// Less orders versions.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// JSONSchema describes "X.Y.Z".
func (Version) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": versionRe.String()}
}

// Pattern matches server or cluster versions: "3.5" and "3.5.*" match every
// 3.5.x, "3.5.35" matches exactly that release.
type Pattern struct {
	Major, Minor int
	Patch        int // -1 for any patch
	raw          string
}

var patternRe = regexp.MustCompile(`^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})(\.(\*|0|[1-9][0-9]{0,3}))?$`)

// reportedRe reads a version as etcd reports it.
var reportedRe = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?`)

// ParsePattern parses "X.Y", "X.Y.*" or "X.Y.Z".
func ParsePattern(s string) (Pattern, error) {
	m := patternRe.FindStringSubmatch(s)
	if m == nil {
		return Pattern{}, fmt.Errorf("%q is not a version pattern like \"3.5\", \"3.5.*\" or \"3.5.35\"", s)
	}
	p := Pattern{Patch: -1, raw: s}
	p.Major, _ = strconv.Atoi(m[1])
	p.Minor, _ = strconv.Atoi(m[2])
	if m[4] != "" && m[4] != "*" {
		p.Patch, _ = strconv.Atoi(m[4])
	}
	return p, nil
}

// Match reports whether version v (as etcd reports it, "3.5.35" or the
// cluster's "3.5.0") is one the pattern allows. Anything after the patch
// number (pre-release, "+git") is ignored.
func (p Pattern) Match(v string) bool {
	m := reportedRe.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	if a != p.Major || b != p.Minor {
		return false
	}
	if p.Patch < 0 {
		return true
	}
	c, err := strconv.Atoi(m[3])
	return err == nil && c == p.Patch
}

// Minor is the minor line the pattern is on.
func (p Pattern) MinorLine() Minor { return Minor{p.Major, p.Minor} }

// IsZero reports whether p was never set.
func (p Pattern) IsZero() bool { return p.raw == "" }

func (p Pattern) String() string               { return p.raw }
func (p Pattern) MarshalJSON() ([]byte, error) { return json.Marshal(p.raw) }

// JSONSchema describes a version pattern.
func (Pattern) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": patternRe.String()}
}

// versionText returns n's text when it is a string scalar. Versions must be
// quoted: unquoted 3.10 reads as the number 3.1, so accepting numbers would
// silently turn one version into another.
func (d *Decoder) versionText(n *yaml.Node, what, example string) (*yaml.Node, string, bool) {
	s, ok := d.scalar(n, what)
	if !ok {
		return nil, "", false
	}
	if s.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && s.Tag != "!!str" {
		d.Hintf(s, fmt.Sprintf("quote it: %q (unquoted, 3.10 would read as the number 3.1)", example), "%s must be a quoted string, got %s", what, kindName(s))
		return nil, "", false
	}
	return s, s.Value, true
}

// Minor decodes "X.Y".
func (d *Decoder) Minor(n *yaml.Node, what string) Minor {
	s, text, ok := d.versionText(n, what, "3.5")
	if !ok {
		return Minor{}
	}
	m, err := ParseMinor(text)
	if err != nil {
		d.Errorf(s, "%s: %v", what, err)
	}
	return m
}

// Version decodes "X.Y.Z".
func (d *Decoder) Version(n *yaml.Node, what string) Version {
	s, text, ok := d.versionText(n, what, "3.5.35")
	if !ok {
		return Version{}
	}
	v, err := ParseVersion(text)
	if err != nil {
		d.Errorf(s, "%s: %v", what, err)
	}
	return v
}

// Pattern decodes a version pattern.
func (d *Decoder) Pattern(n *yaml.Node, what string) Pattern {
	s, text, ok := d.versionText(n, what, "3.5.*")
	if !ok {
		return Pattern{}
	}
	p, err := ParsePattern(text)
	if err != nil {
		d.Errorf(s, "%s: %v", what, err)
	}
	return p
}
