//go:build bench

package bench

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Target is one of the figures etcdplay aims at (docs/performance.md), as
// this session measured it: what was aimed at, what was seen, and whether
// it was met. The benchmark reports targets; no test asserts them, since
// a loaded machine moves every figure.
type Target struct {
	Members int    `json:"members"`
	Target  string `json:"target"`
	Seen    string `json:"seen"`
	Met     bool   `json:"met"`
}

// gapTargetMS is the most etcdplay may add while a member is down: from
// its process gone to its process back (Result.GapMS).
const gapTargetMS = 300

// targets judges etcdplay's runs against its targets, per cluster size.
// Each is judged on every run, not on a median: one run over the bound
// is a miss.
func targets(rs []Result) []Target {
	bySize := map[int]map[string][]Result{}
	for _, r := range rs {
		if bySize[r.Members] == nil {
			bySize[r.Members] = map[string][]Result{}
		}
		bySize[r.Members][r.Way] = append(bySize[r.Members][r.Way], r)
	}
	sizes := make([]int, 0, len(bySize))
	for n := range bySize {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	var out []Target
	for _, n := range sizes {
		ep := bySize[n]["etcdplay"]
		if len(ep) == 0 {
			continue
		}
		col := func(rs []Result, f func(Result) int64) []int64 {
			xs := make([]int64, 0, len(rs))
			for _, r := range rs {
				xs = append(xs, f(r))
			}
			return xs
		}

		// The runner's own time, as its report counts it, against the wall.
		var pct []float64
		for _, r := range ep {
			if r.WallMS > 0 {
				pct = append(pct, 100*float64(r.ReportOverheadMS)/float64(r.WallMS))
			}
		}
		worst := slices.Max(append(pct, 0))
		out = append(out, Target{n, "runner overhead (report) <= 5 % of the upgrade",
			fmt.Sprintf("%.1f %% median, %.1f %% worst", medianF(pct), worst), len(pct) > 0 && worst <= 5})

		// Overhead measured from outside, the same way for every tool:
		// the wall time minus etcd's own time, transfers and backups
		// (Result.OverheadMS).
		if an := bySize[n]["ansible"]; len(an) > 0 {
			e := statOf(col(ep, func(r Result) int64 { return r.OverheadMS })).Median
			a := statOf(col(an, func(r Result) int64 { return r.OverheadMS })).Median
			ratio := float64(a) / float64(max(e, 1))
			out = append(out, Target{n, "overhead (outside) at least 10x below Ansible's",
				fmt.Sprintf("Ansible %d ms / etcdplay %d ms = %.1fx (medians)", a, e, ratio), ratio >= 10})
		}

		gaps := col(ep, func(r Result) int64 { return r.GapMS })
		g := statOf(gaps)
		out = append(out, Target{n, fmt.Sprintf("tool gap while a member is down <= %d ms", gapTargetMS),
			fmt.Sprintf("%d ms median, %d ms worst (worst member of each run)", g.Median, g.Max), g.Max <= gapTargetMS})

		failed := col(ep, func(r Result) int64 { return int64(r.AllFailed) })
		var lost int64
		for _, f := range failed {
			lost += f
		}
		leaders := col(ep, func(r Result) int64 { return int64(r.LeaderChanges) })
		oneLeader := !slices.ContainsFunc(leaders, func(x int64) bool { return x != 1 })
		out = append(out, Target{n, "0 failed writes (all-endpoints writer), exactly 1 leader change",
			fmt.Sprintf("%d failed in %d runs; leader changes %s", lost, len(ep), joinInts(leaders)), lost == 0 && oneLeader})
	}
	return out
}

// renderTargets is the targets as a markdown table.
func renderTargets(ts []Target) string {
	if len(ts) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nTargets (every etcdplay run judged; docs/performance.md):\n\n| members | target | seen | met |\n|--:|---|---|---|\n")
	for _, t := range ts {
		met := "no"
		if t.Met {
			met = "yes"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", t.Members, t.Target, t.Seen, met)
	}
	return b.String()
}

func medianF(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.SortFunc(s, cmp.Compare[float64])
	return s[len(s)/2]
}

func joinInts(xs []int64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}
