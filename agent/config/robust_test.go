package config

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkAnyInput parses data and checks what holds for every input: no
// panic, either a File or errors, and each error placed on a line of the
// file. A File must also survive SetAuthtoken.
func checkAnyInput(t *testing.T, data []byte) {
	t.Helper()
	f, err := Parse(data, "w.yml")
	if err == nil {
		if f == nil {
			t.Fatalf("nil File and nil error for %q", data)
		}
		if out, err := f.SetAuthtoken("wsg1_fuzz"); err == nil {
			if g, err := Parse(out, "w.yml"); err != nil || g.Authtoken != "wsg1_fuzz" {
				t.Fatalf("SetAuthtoken on %q gave %q: %v", data, out, err)
			}
		}
		return
	}
	var errs Errors
	if f != nil || !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("Parse(%q) = %v, %T %v", data, f, err, err)
	}
	lines := strings.Count(string(data), "\n") + 1
	for _, e := range errs {
		if e.Line < 1 || e.Line > lines+1 || !strings.Contains(e.Error(), fmt.Sprintf("w.yml:%d:", e.Line)) {
			t.Fatalf("error without a line in the file (%d lines): %v\ninput %q", lines, e, data)
		}
	}
}

// TestRobustTruncated parses every prefix of the example.
func TestRobustTruncated(t *testing.T) {
	for i := range len(example) {
		checkAnyInput(t, []byte(example[:i]))
	}
}

// TestRobustMutated parses random edits of the example: bytes replaced,
// inserted or deleted, lines dropped or repeated.
func TestRobustMutated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(" \t\n:-[]{},#&*!|>'\"%@`?~0123456789abcxyz/.\x00\xff")
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		b := []byte(example)
		for range 1 + rng.IntN(4) {
			if len(b) == 0 {
				break
			}
			i := rng.IntN(len(b))
			c := alphabet[rng.IntN(len(alphabet))]
			switch rng.IntN(5) {
			case 0:
				b[i] = c
			case 1:
				b = append(b[:i], append([]byte{c}, b[i:]...)...)
			case 2:
				b = append(b[:i], b[i+1:]...)
			case 3, 4:
				lines := strings.SplitAfter(string(b), "\n")
				j := rng.IntN(len(lines))
				if rng.IntN(2) == 0 {
					lines = append(lines[:j], lines[j+1:]...)
				} else {
					lines = append(lines[:j+1], lines[j:]...)
				}
				b = []byte(strings.Join(lines, ""))
			}
		}
		checkAnyInput(t, b)
	}
}

// TestRobustOddInputs covers shapes mutation rarely reaches.
func TestRobustOddInputs(t *testing.T) {
	for _, s := range []string{
		"&a [*a]", "a: &a\n  b: *a\n", strings.Repeat("[", 10000), strings.Repeat("- ", 5000) + "x",
		"tunnels:\n  web: &w {proto: http, addr: 3000}\n  api: *w\n", "? [a, b]\n: c\n", "!!binary aGk=\n",
		"%YAML 1.2\n---\nedge: a:1\n", "\xef\xbb\xbfpool: 1\n", "pool: 1\r\nedge: a.example.com:1\r\n",
		"tunnels:\n  web:\n    proto: http\n    addr: 3000\n    allow_cidr: [*x]\n", "pool: 99999999999999999999999\n",
		"tunnels:\n  web:\n    proto: !!int http\n    addr: 3000\n", "...\n", "--- |\n  text\n",
	} {
		checkAnyInput(t, []byte(s))
	}
}
