package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// topKeys are the keys of the file's top level.
var topKeys = []string{"version", "authtoken", "edge", "ca", "server_name", "pool", "inspect_addr", "log", "tunnels"}

// parser walks the YAML node tree, collecting every problem with its
// position rather than stopping at the first.
type parser struct {
	name string
	errs Errors
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.name, Line: max(n.Line, 1), Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) file(data []byte) *File {
	f := &File{Path: p.name, Version: 1, data: bytes.Clone(data)} // the caller may reuse data
	if e := checkText(p.name, data); e != nil {
		p.errs = append(p.errs, e)
		return nil
	}
	doc, err := decodeOne(p.name, data)
	if err != nil {
		p.errs = append(p.errs, err)
		return nil
	}
	if doc == nil || len(doc.Content) == 0 {
		return f // empty, or only comments
	}
	f.doc = doc
	root := doc.Content[0]
	switch {
	case isNull(root):
		return f
	case root.Kind != yaml.MappingNode:
		p.errorf(root, "the file must be a mapping of keys such as edge: and tunnels:, not %s", describe(root))
		return nil
	}
	f.mapping = root
	p.top(f, root)
	return f
}

// decodeOne parses data as exactly one YAML document; nil means the file
// holds none (it is empty or only comments).
func decodeOne(name string, data []byte) (doc *yaml.Node, e *Error) {
	defer func() {
		if r := recover(); r != nil { // see safeUnmarshal
			doc, e = nil, &Error{File: name, Line: 1, Msg: fmt.Sprintf("the YAML parser failed (%v): check the file's syntax", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	doc = new(yaml.Node)
	switch err := dec.Decode(doc); {
	case errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		return nil, syntaxError(name, data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return doc, nil
	case err != nil:
		return nil, syntaxError(name, data, err)
	}
	return nil, &Error{File: name, Line: max(extra.Line, 1), Col: extra.Column,
		Msg: "a second YAML document starts here, and a config file holds one: remove the --- separator and merge the two"}
}

// each calls fn with every key and (alias-resolved) value of mapping m,
// after reporting keys that are not plain names and keys that repeat;
// dup words the message for a repeated key.
func (p *parser) each(m *yaml.Node, dup func(key string, first int) string, fn func(k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolve(m.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errorf(k, "a key must be a plain name, not %s", describe(k))
			continue
		case k.Tag == "!!merge":
			p.errorf(k, "merge keys (<<) are not supported: write the keys out")
			continue
		}
		if first, ok := seen[k.Value]; ok {
			p.errorf(k, "%s", dup(k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		fn(k, v)
	}
}

func (p *parser) top(f *File, root *yaml.Node) {
	dir := filepath.Dir(p.name)
	p.each(root, func(key string, first int) string {
		return fmt.Sprintf("duplicate key %q (first on line %d): keep one", key, first)
	}, func(k, v *yaml.Node) {
		key := k.Value
		switch key {
		case "version":
			if n, ok := p.integer(key, v); ok && n != 1 {
				p.errorf(v, "version %d is not supported: this wsgrok reads version 1 (write version: 1, or upgrade wsgrok)", n)
			}
		case "authtoken":
			if s, ok := p.scalar(key, v, "text"); ok {
				p.check(v, key, checkToken(s))
				f.Authtoken = s
			}
		case "edge":
			if s, ok := p.scalar(key, v, "host:port"); ok {
				p.check(v, key, checkHostPort(s))
				f.Edge = s
			}
		case "ca":
			if s, ok := p.scalar(key, v, "a file path"); ok && s != "" {
				f.CA = relativeTo(dir, s)
			}
		case "server_name":
			if s, ok := p.scalar(key, v, "a host name"); ok {
				if hasSpaceOrControl(s) || len(s) > 253 {
					p.errorf(v, "server_name %q is not a host name: give the name on the edge's certificate", s)
				}
				f.ServerName = s
			}
		case "pool":
			if n, ok := p.integer(key, v); ok {
				if n < 1 || n > 16 {
					p.errorf(v, "pool is %d: use 1-16 parallel sessions", n)
				}
				f.Pool = n
			}
		case "inspect_addr":
			f.InspectAddr = p.inspectAddr(v)
		case "log":
			f.Log = p.log(dir, v)
		case "tunnels":
			p.tunnels(f, v)
		default:
			p.unknownKey(k, "", topKeys, tunnelKeys, "in a tunnel under tunnels:")
		}
	})
}

func (p *parser) inspectAddr(v *yaml.Node) string {
	if v.Tag == "!!bool" {
		if b, ok := p.boolean("inspect_addr", v); ok && b {
			p.errorf(v, "inspect_addr: true is not an address: give host:port such as 127.0.0.1:4040, or off")
		}
		return "off"
	}
	s, ok := p.scalar("inspect_addr", v, "host:port or off")
	switch {
	case !ok:
		return ""
	case s == "off" || s == "false":
		return "off"
	}
	p.check(v, "inspect_addr", checkHostPort(s))
	return s
}

func (p *parser) log(dir string, v *yaml.Node) string {
	if v.Tag == "!!bool" {
		if b, ok := p.boolean("log", v); ok && b {
			p.errorf(v, "log: true does not say where: use stdout, stderr or a file path (false turns it off)")
		}
		return "false"
	}
	s, ok := p.scalar("log", v, "false, stdout, stderr or a file path")
	switch {
	case !ok:
		return ""
	case s == "false" || s == "off":
		return "false"
	case s == "stdout" || s == "stderr":
		return s
	}
	return relativeTo(dir, s)
}

// check reports err, if any, at n; it returns whether there was none.
func (p *parser) check(n *yaml.Node, label string, err error) bool {
	if err != nil {
		p.errorf(n, "%s: %v", label, err)
	}
	return err == nil
}

func (p *parser) unknownKey(k *yaml.Node, where string, known, other []string, otherPlace string) {
	msg := fmt.Sprintf("unknown key %q%s", k.Value, where)
	norm := strings.ReplaceAll(k.Value, "-", "_")
	switch s := suggest(k.Value, known); {
	case s != "":
		msg += s
	case slices.Contains(other, norm):
		msg += fmt.Sprintf(": %s belongs %s", norm, otherPlace)
	default:
		msg += ": the keys here are " + strings.Join(known, ", ")
	}
	p.errorf(k, "%s", msg)
}

// scalar returns v's text. A null value is absent (false, no message); a
// list or mapping is reported.
func (p *parser) scalar(label string, v *yaml.Node, want string) (string, bool) {
	if isNull(v) {
		return "", false
	}
	if v.Kind != yaml.ScalarNode {
		p.errorf(v, "%s must be %s, not %s", label, want, describe(v))
		return "", false
	}
	return v.Value, true
}

func (p *parser) integer(label string, v *yaml.Node) (int, bool) {
	if isNull(v) {
		return 0, false
	}
	var n int
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&n) != nil {
		p.errorf(v, "%s must be a whole number, not %s", label, describe(v))
		return 0, false
	}
	return n, true
}

func (p *parser) boolean(label string, v *yaml.Node) (bool, bool) {
	if isNull(v) {
		return false, false
	}
	var b bool
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&b) != nil {
		p.errorf(v, "%s must be true or false, not %s", label, describe(v))
		return false, false
	}
	return b, true
}

// list returns the items of a list of scalars; a single scalar is a list
// of one (allow_cidr: 10.0.0.0/8).
func (p *parser) list(label string, v *yaml.Node) []*yaml.Node {
	switch {
	case isNull(v):
		return nil
	case v.Kind == yaml.ScalarNode:
		return []*yaml.Node{v}
	case v.Kind != yaml.SequenceNode:
		p.errorf(v, "%s must be a list, not %s", label, describe(v))
		return nil
	case len(v.Content) > maxListLen:
		p.errorf(v, "%s has %d entries: the limit is %d", label, len(v.Content), maxListLen)
		return nil
	}
	items := make([]*yaml.Node, 0, len(v.Content))
	for _, it := range v.Content {
		it = resolve(it)
		if it.Kind != yaml.ScalarNode || isNull(it) {
			p.errorf(it, "each entry of %s must be a single value, not %s", label, describe(it))
			continue
		}
		items = append(items, it)
	}
	return items
}

// resolve follows an alias (*name) to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names what a node is, for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	switch n.Tag {
	case "!!null":
		return "empty"
	case "!!bool":
		return v
	case "!!int", "!!float":
		return "the number " + v
	case "!!str":
		return fmt.Sprintf("the text %q", v)
	}
	return fmt.Sprintf("%s %q", n.Tag, v)
}

func relativeTo(dir, path string) string {
	if filepath.IsAbs(path) || dir == "" {
		return path
	}
	return filepath.Join(dir, path)
}
