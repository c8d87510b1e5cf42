package config

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// SetAuthtoken returns the file's contents with authtoken set to token and
// everything else kept, comments included.
//
// A round trip through yaml.v3's node tree keeps comments but not blank
// lines or the author's indentation, so the common cases are edited as
// text: an authtoken on one line has its value replaced in place, and a
// missing one gets a line of its own. Any other shape goes through the
// node tree. Either way the result is parsed again and must say the same
// as the file did, with the new token.
func (f *File) SetAuthtoken(token string) ([]byte, error) {
	if err := checkToken(token); err != nil {
		return nil, err
	}
	if out, ok := f.editText(token); ok && f.sameBut(out, token) {
		return out, nil
	}
	out, err := f.reencode(token)
	if err != nil {
		return nil, err
	}
	if !f.sameBut(out, token) {
		return nil, fmt.Errorf("cannot rewrite %s safely: add the line authtoken: %s by hand", f.Path, renderToken(token))
	}
	return out, nil
}

// editText edits the file as text; false when its shape is not a simple one.
func (f *File) editText(token string) ([]byte, bool) {
	line := renderToken(token)
	if f.mapping == nil {
		if f.doc != nil {
			return nil, false // a document holding null ("~", "---"): let the node tree say it
		}
		return appendLine(f.data, "authtoken: "+line), true
	}
	if f.mapping.Style&yaml.FlowStyle != 0 || len(f.mapping.Content) == 0 {
		return nil, false
	}
	if _, v := lookup(f.mapping, "authtoken"); v != nil {
		if v.Kind != yaml.ScalarNode {
			return nil, false
		}
		off, ok := offsetOf(f.data, v.Line, v.Column)
		if !ok {
			return nil, false
		}
		var src string
		switch v.Style {
		case 0:
			src = v.Value
		case yaml.DoubleQuotedStyle:
			src = `"` + v.Value + `"`
		case yaml.SingleQuotedStyle:
			src = "'" + v.Value + "'"
		default:
			return nil, false
		}
		if strings.ContainsAny(src, "\r\n\\") || !bytes.HasPrefix(f.data[off:], []byte(src)) {
			return nil, false // escapes or line folding: the text is not the value
		}
		out := make([]byte, 0, len(f.data)+len(line))
		out = append(out, f.data[:off]...)
		out = append(out, line...)
		return append(out, f.data[off+len(src):]...), true
	}
	// A new line goes at the top of the mapping unless a comment sits
	// there, which describes the first key and must stay with it.
	indent := strings.Repeat(" ", max(f.mapping.Column-1, 0))
	if first := f.mapping.Content[0]; first.HeadComment == "" {
		if off, ok := offsetOf(f.data, first.Line, 1); ok && onlySpaces(f.data[off:], first.Column-1) {
			out := make([]byte, 0, len(f.data)+len(line)+32)
			out = append(out, f.data[:off]...)
			out = append(out, indent+"authtoken: "+line+"\n"...)
			return append(out, f.data[off:]...), true
		}
	}
	return appendLine(f.data, indent+"authtoken: "+line), true
}

// reencode sets the token in a fresh node tree and encodes it.
func (f *File) reencode(token string) ([]byte, error) {
	doc, perr := decodeOne(f.Path, f.data)
	if perr != nil {
		return nil, perr
	}
	if doc == nil {
		doc = &yaml.Node{Kind: yaml.DocumentNode}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		doc.Content = []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}
	}
	m := doc.Content[0]
	value := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: token}
	if k, v := lookup(m, "authtoken"); v != nil {
		value.LineComment = v.LineComment
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i] == k {
				m.Content[i+1] = value
			}
		}
	} else {
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "authtoken"}
		m.Content = append([]*yaml.Node{key, value}, m.Content...)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("cannot rewrite %s: %w", f.Path, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("cannot rewrite %s: %w", f.Path, err)
	}
	return b.Bytes(), nil
}

// sameBut reports whether out parses to what f holds, but with token.
func (f *File) sameBut(out []byte, token string) bool {
	g, err := Parse(out, f.Path)
	if err != nil || g.Authtoken != token {
		return false
	}
	return reflect.DeepEqual(f.settings(), g.settings())
}

// settings is f without its token and positions, for sameBut.
func (f *File) settings() File {
	s := File{Path: f.Path, Version: f.Version, Edge: f.Edge, CA: f.CA, ServerName: f.ServerName,
		Pool: f.Pool, InspectAddr: f.InspectAddr, Log: f.Log}
	for _, d := range f.Defs {
		d.Line = 0
		s.Defs = append(s.Defs, d)
	}
	return s
}

// lookup returns the key and value nodes of key in mapping m.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// offsetOf returns the byte offset of a 1-based line and column (in
// characters, as yaml.v3 counts them).
func offsetOf(data []byte, line, col int) (int, bool) {
	if line < 1 || col < 1 {
		return 0, false
	}
	off := 0
	if line > 1 {
		ends := lineEnds(data)
		if line-2 >= len(ends) {
			return 0, false
		}
		off = ends[line-2]
	}
	for ; col > 1; col-- {
		if off >= len(data) || data[off] == '\n' || data[off] == '\r' {
			return 0, false
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	return off, true
}

func onlySpaces(b []byte, n int) bool {
	return n <= len(b) && strings.Trim(string(b[:n]), " ") == ""
}

func appendLine(data []byte, line string) []byte {
	out := bytes.Clone(data)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, line+"\n"...)
}

// plainToken is what may stand unquoted in YAML and still read as itself.
var plainToken = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+/=-]*$`)

// renderToken writes token as a YAML scalar: plain when it reads back as
// the same string (not a number or true), else double-quoted.
func renderToken(token string) string {
	if plainToken.MatchString(token) {
		var n yaml.Node
		if yaml.Unmarshal([]byte(token), &n) == nil && len(n.Content) == 1 &&
			n.Content[0].Tag == "!!str" && n.Content[0].Value == token {
			return token
		}
	}
	return strconv.Quote(token)
}
