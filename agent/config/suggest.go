package config

import (
	"fmt"
	"strings"
)

// suggest returns ` (did you mean "x"?)` for the known word closest to
// word, or "" when none is close enough to be a likely typo.
func suggest(word string, known []string) string {
	if best := closest(word, known); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// closest returns the known word within a typo's distance of word: one
// edit for short words, two for longer ones, none below three letters;
// a swap of neighbours counts as one edit, and '-' as '_' (flag spelling
// as against YAML key spelling).
func closest(word string, known []string) string {
	w := strings.ReplaceAll(strings.ToLower(word), "-", "_")
	limit := 1
	switch {
	case len(w) < 3:
		return "" // every short word is near some key
	case len(w) > 4:
		limit = 2
	}
	best, bestD := "", limit+1
	for _, k := range known {
		if d := distance(w, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the optimal string alignment distance (Levenshtein with
// transpositions) between a and b, compared byte-wise: keys are ASCII.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30 // no one mistypes a 64-letter key; keep it cheap
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
