// Package diff compares two playbooks step by step, for code review: which
// steps were added, removed or changed in each phase, and how (arguments,
// guard, name, timeout, retries), plus the top-level fields. Steps are
// aligned by (action, name) with a longest common subsequence, so inserting
// a step shows as one addition, not as every later step changing.
//
// Compare is the logic; WriteText and WriteJSON are its views.
package diff

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strconv"

	"github.com/etcdplay/etcdplay/schema"
)

// Kind of change.
type Kind string

// The kinds of change.
const (
	Added   Kind = "added"
	Removed Kind = "removed"
	Changed Kind = "changed"
)

// PhasePlaybook is the Phase of a change to a top-level field.
const PhasePlaybook = "playbook"

// Change is one difference.
type Change struct {
	// Phase is preflight, members, finish, rollback, or "playbook" for a
	// top-level field.
	Phase string `json:"phase"`
	Kind  Kind   `json:"kind"`
	// Index is the step's 1-based position in the new playbook (in the old
	// one for a removed step); OldIndex its position in the old one when
	// it moved. 0 for top-level fields.
	Index    int    `json:"index,omitempty"`
	OldIndex int    `json:"old_index,omitempty"`
	Action   string `json:"action,omitempty"`
	Name     string `json:"name,omitempty"`
	// Field is the top-level field that changed ("to", "vars.x").
	Field string `json:"field,omitempty"`
	// Details are the changes inside a step, one per field.
	Details []Detail `json:"details,omitempty"`
}

// Detail is one field of a step (or the top level) that changed; Old or
// New is empty when the field was added or removed.
type Detail struct {
	Field string `json:"field"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
}

// Compare returns every difference from old to new: top-level fields
// first, then each phase in run order.
func Compare(old, new *schema.Playbook) []Change {
	var out []Change
	top := func(field, a, b string) {
		if a != b {
			out = append(out, Change{Phase: PhasePlaybook, Kind: Changed, Field: field, Details: []Detail{{Field: field, Old: a, New: b}}})
		}
	}
	top("playbook", old.Name, new.Name)
	top("from", old.From.String(), new.From.String())
	top("to", old.To.String(), new.To.String())
	top("guide", old.Guide, new.Guide)
	for _, d := range compareMaps("vars", flatten(old.Vars), flatten(new.Vars)) {
		out = append(out, Change{Phase: PhasePlaybook, Kind: Changed, Field: d.Field, Details: []Detail{d}})
	}
	top("members.order", old.Members.Order, new.Members.Order)
	op, np := old.Phases(), new.Phases()
	for i := range op {
		out = append(out, comparePhase(string(op[i].Phase), op[i].Steps, np[i].Steps)...)
	}
	return out
}

// key aligns steps: the same action with the same name is the same step.
func key(s *schema.Step) string { return s.Action + "\x00" + s.Name }

func comparePhase(phase string, a, b []*schema.Step) []Change {
	// LCS table over keys.
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if key(a[i]) == key(b[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []Change
	var gapA, gapB []int
	flush := func() {
		out = append(out, pairGap(phase, a, b, gapA, gapB)...)
		gapA, gapB = nil, nil
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && key(a[i]) == key(b[j]):
			flush()
			if c, ok := compareStep(phase, a[i], b[j], i+1, j+1); ok {
				out = append(out, c)
			}
			i, j = i+1, j+1
		case j >= m || (i < n && lcs[i+1][j] >= lcs[i][j+1]):
			gapA = append(gapA, i)
			i++
		default:
			gapB = append(gapB, j)
			j++
		}
	}
	flush()
	return out
}

// pairGap turns the steps between two aligned ones into changes: a step
// whose name changed but whose action did not is one changed step;
// the rest are removed and added.
func pairGap(phase string, a, b []*schema.Step, ga, gb []int) []Change {
	var out []Change
	usedB := map[int]bool{}
	pairs := map[int]int{}
	for _, i := range ga {
		for _, j := range gb {
			if !usedB[j] && a[i].Action == b[j].Action {
				usedB[j] = true
				pairs[i] = j
				break
			}
		}
	}
	for _, i := range ga {
		if j, ok := pairs[i]; ok {
			if c, changed := compareStep(phase, a[i], b[j], i+1, j+1); changed {
				out = append(out, c)
			}
			continue
		}
		out = append(out, Change{Phase: phase, Kind: Removed, Index: i + 1, Action: a[i].Action, Name: a[i].Name})
	}
	for _, j := range gb {
		if !usedB[j] {
			out = append(out, Change{Phase: phase, Kind: Added, Index: j + 1, Action: b[j].Action, Name: b[j].Name, Details: stepFields(b[j])})
		}
	}
	sort.SliceStable(out, func(x, y int) bool { return out[x].Index < out[y].Index })
	return out
}

func compareStep(phase string, a, b *schema.Step, ai, bi int) (Change, bool) {
	c := Change{Phase: phase, Kind: Changed, Index: bi, Action: b.Action, Name: b.Name}
	if ai != bi {
		c.OldIndex = ai
	}
	if a.Name != b.Name {
		c.Details = append(c.Details, Detail{Field: "name", Old: a.Name, New: b.Name})
	}
	c.Details = append(c.Details, compareMaps("args", args(a), args(b))...)
	if ga, gb := a.When.String(), b.When.String(); ga != gb {
		c.Details = append(c.Details, Detail{Field: "when", Old: ga, New: gb})
	}
	if a.Timeout != b.Timeout {
		c.Details = append(c.Details, Detail{Field: "timeout", Old: a.Timeout.String(), New: b.Timeout.String()})
	}
	if a.Retries != b.Retries {
		c.Details = append(c.Details, Detail{Field: "retries", Old: strconv.Itoa(a.Retries), New: strconv.Itoa(b.Retries)})
	}
	return c, len(c.Details) > 0
}

// stepFields describes an added step's settings.
func stepFields(s *schema.Step) []Detail {
	var out []Detail
	for _, k := range slices.Sorted(maps.Keys(args(s))) {
		out = append(out, Detail{Field: "args." + k, New: args(s)[k]})
	}
	if s.When != nil {
		out = append(out, Detail{Field: "when", New: s.When.Source})
	}
	return out
}

// args flattens a step's typed arguments through their JSON form, which
// every action has (versions, durations and guards marshal as written).
func args(s *schema.Step) map[string]string {
	b, err := json.Marshal(s.Args)
	if err != nil {
		return map[string]string{"?": err.Error()}
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return map[string]string{"": string(b)}
	}
	return flatten(m)
}

func flatten(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			if s != "" {
				out[k] = s
			}
			continue
		}
		if v == nil {
			continue
		}
		b, _ := json.Marshal(v)
		out[k] = string(b)
	}
	return out
}

func compareMaps(prefix string, a, b map[string]string) []Detail {
	keys := slices.Concat(slices.Collect(maps.Keys(a)), slices.Collect(maps.Keys(b)))
	slices.Sort(keys)
	var out []Detail
	for _, k := range slices.Compact(keys) {
		if a[k] != b[k] {
			out = append(out, Detail{Field: prefix + "." + k, Old: a[k], New: b[k]})
		}
	}
	return out
}
