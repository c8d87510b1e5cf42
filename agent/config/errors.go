package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a config file, at the place it was found.
type Error struct {
	File string
	Line int // 1-based
	Col  int // 1-based; 0 when only the line is known (YAML syntax errors)
	Msg  string
}

func (e *Error) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Errors is every problem found in a file, in the order of the file.
type Errors []*Error

// Error returns the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// yamlLine matches yaml.v3's positioned messages, "yaml: line 3: ...".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError turns a yaml.v3 parse error into an Error with a line.
//
// yaml.v3 knows only lines, and for parser (as opposed to scanner) errors
// the line it gives is not where the problem is but the 0-based line of the
// enclosing block's start ("did not find expected key" on a badly indented
// line 6 is reported at line 3), and problems on the first line get none.
// The parser stops at the first error, so every prefix of the file that
// holds the offending line fails the same way and shorter ones do not (or
// differently, being cut short): a binary search over prefixes finds the
// line to fix.
func syntaxError(name string, data []byte, err error) *Error {
	msg := err.Error()
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	line = max(line, 1)
	if l, ok := firstFailingLine(data, msg, line); ok {
		line = l
	}
	return &Error{File: name, Line: line, Msg: "YAML syntax: " + msg + ": " + syntaxHint(msg)}
}

// syntaxHint says what usually causes a yaml.v3 message.
func syntaxHint(msg string) string {
	switch {
	case strings.Contains(msg, "expected key"), strings.Contains(msg, "mapping values are not allowed"),
		strings.Contains(msg, "expected '-' indicator"):
		return "check this line's indentation against the lines above"
	case strings.Contains(msg, "expected ':'"):
		return "a key needs a colon and a space after it (key: value)"
	case strings.Contains(msg, "cannot start any token"):
		return "indent with spaces, not tabs, and quote values starting with @ or `"
	case strings.Contains(msg, "',' or ']'"), strings.Contains(msg, "',' or '}'"):
		return "a [ or { opened here is not closed"
	case strings.Contains(msg, "unexpected end of stream"):
		return "a quote opened here is not closed"
	case strings.Contains(msg, "anchor"):
		return "define the anchor (&name) before using it (*name)"
	}
	return "check the syntax of this line"
}

// prefixBudget bounds the bytes firstFailingLine re-parses, so that a large
// file costs a fraction of a second; past it yaml.v3's line stands.
const prefixBudget = 2 << 20

// firstFailingLine returns the first line at or after from such that the
// file up to and including it fails to parse with the message msg.
func firstFailingLine(data []byte, msg string, from int) (int, bool) {
	ends := lineEnds(data)
	if from > len(ends) {
		return 0, false
	}
	fails := func(l int) bool {
		var n yaml.Node
		err := safeUnmarshal(data[:ends[l-1]], &n)
		if err == nil {
			return false
		}
		m := err.Error()
		if loc := yamlLine.FindStringIndex(m); loc != nil {
			m = m[loc[1]:]
		} else {
			m = strings.TrimPrefix(m, "yaml: ")
		}
		return m == msg
	}
	// Invariant: prefixes up to lo do not fail with msg, up to hi do.
	lo, hi, spent := from-1, len(ends), 0
	for lo+1 < hi {
		mid := lo + (hi-lo)/2
		if spent += ends[mid-1]; spent > prefixBudget {
			return 0, false
		}
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}

// safeUnmarshal is yaml.Unmarshal that turns a panic in the YAML library
// into an error: the input is not trusted, and a crash would take the
// agent down with a stack trace instead of a message.
func safeUnmarshal(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed (%v)", r)
		}
	}()
	return yaml.Unmarshal(data, n)
}

// lineEnds returns the offset just past each line's break (or the end of
// data for a last line without one), counting breaks as YAML does: LF, CR,
// CRLF, NEL, LS and PS.
func lineEnds(data []byte) []int {
	var ends []int
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		i += size
		switch r {
		case '\r':
			if i < len(data) && data[i] == '\n' {
				i++
			}
			ends = append(ends, i)
		case '\n', '\u0085', '\u2028', '\u2029':
			ends = append(ends, i)
		}
	}
	if len(data) > 0 && (len(ends) == 0 || ends[len(ends)-1] != len(data)) {
		ends = append(ends, len(data))
	}
	return ends
}

// checkText finds what YAML refuses before any parsing: bytes that are not
// UTF-8 and characters outside YAML's printable set (spec 1.2 §5.1). The
// YAML library reports these without a position.
func checkText(name string, data []byte) *Error {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return &Error{File: name, Line: line, Col: col, Msg: fmt.Sprintf("byte 0x%02x is not UTF-8 text: save the file as UTF-8", data[i])}
		case !printable(r):
			return &Error{File: name, Line: line, Col: col, Msg: fmt.Sprintf("control character %U is not allowed in YAML: remove it", r)}
		}
		i += size
		col++
		switch r {
		case '\r':
			if i < len(data) && data[i] == '\n' {
				i++
			}
			line, col = line+1, 1
		case '\n', '\u0085', '\u2028', '\u2029':
			line, col = line+1, 1
		}
	}
	return nil
}

func printable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}
