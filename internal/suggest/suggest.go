// Package suggest finds the name someone most likely meant: the "did you
// mean" of a misspelt YAML key, command or flag. One owner, so the schema
// and the CLI agree on what counts as close.
package suggest

// Closest returns the candidate nearest to name by edit distance (case and
// _/- ignored), when it is close enough to be the likely intent, or "".
func Closest(name string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := levenshtein(fold(name), fold(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(len(name)/3, 2)
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// fold lower-cases ASCII letters and reads _ as -.
func fold(s string) string {
	b := []rune(s)
	for i, r := range b {
		if r >= 'A' && r <= 'Z' {
			b[i] = r + ('a' - 'A')
		}
		if r == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// levenshtein is the edit distance between a and b, in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
