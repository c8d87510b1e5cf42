package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

// MaxSize is the largest file read: a config file is a few hundred bytes,
// and anything near this is a wrong path.
const MaxSize = 1 << 20

// File is a parsed, valid config file. Unset optional values are zero.
type File struct {
	Path        string
	Version     int
	Authtoken   string
	Edge        string
	CA          string
	ServerName  string
	Pool        int    // 0: not set
	InspectAddr string // host:port, "off", or "" when not set
	Log         string // "false", "stdout", "stderr", a path, or "" when not set
	Defs        []TunnelDef

	data    []byte     // the file as read, for SetAuthtoken
	doc     *yaml.Node // its document node; nil for an empty file
	mapping *yaml.Node // the top-level mapping; nil for an empty file
}

// TunnelDef is one entry under tunnels:.
type TunnelDef struct {
	Name       string
	Line       int    // where the entry starts, for messages
	Proto      string // "http" or "tcp"
	Addr       string // as written: a port, host:port or URL
	Subdomain  string // http
	HostHeader string // http
	RemotePort int    // tcp; 0: any
	Policy     Policy
}

// Policy is what the edge enforces for a tunnel. It travels as BIND
// options (spec §11.9).
type Policy struct {
	AllowCIDR []string
	DenyCIDR  []string
	BlockPath []string // http
	BasicAuth []string // http; user:password
	RateLimit int      // requests a minute per client address; 0: none
	Inspect   *bool    // nil: the edge's default
}

// Options returns the policy as BIND options, in a fixed order.
func (p Policy) Options() wire.Metadata {
	var m wire.Metadata
	for _, kv := range []struct {
		key  string
		vals []string
	}{{"allow-cidr", p.AllowCIDR}, {"deny-cidr", p.DenyCIDR}, {"block-path", p.BlockPath}, {"basic-auth", p.BasicAuth}} {
		for _, v := range kv.vals {
			m = m.Add(kv.key, v)
		}
	}
	if p.RateLimit > 0 {
		m = m.Add("rate-limit", strconv.Itoa(p.RateLimit))
	}
	if p.Inspect != nil {
		v := "1"
		if !*p.Inspect {
			v = "0" // asks the edge not to record the traffic
		}
		m = m.Add("inspect", v)
	}
	return m
}

// maxOptionsBytes bounds a tunnel's options once encoded: with the rest of
// the BIND frame they must fit the 16 KiB every peer accepts (spec §7).
const maxOptionsBytes = 12 << 10

func optionsSize(m wire.Metadata) int {
	n := 2
	for _, f := range m {
		n += 4 + len(f.Key) + len(f.Value)
	}
	return n
}

// Load reads and parses the file at path. A missing file is an error that
// wraps os.ErrNotExist.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path)
}

// Read parses a config file from r; name is used in messages.
func Read(r io.Reader, name string) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", name, err)
	}
	return Parse(data, name)
}

// Parse parses a config file's contents; name is used in messages and to
// resolve relative paths. The error, if any, is an Errors listing every
// problem found.
func Parse(data []byte, name string) (*File, error) {
	if len(data) > MaxSize {
		return nil, Errors{{File: name, Line: 1, Msg: fmt.Sprintf("the file is larger than %d KiB: is this the right file?", MaxSize>>10)}}
	}
	p := &parser{name: name}
	f := p.file(data)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Col - b.Col
		})
		if n := len(p.errs); n > maxErrors {
			rest := p.errs[maxErrors]
			p.errs = append(p.errs[:maxErrors], &Error{File: name, Line: rest.Line, Col: rest.Col,
				Msg: fmt.Sprintf("and %d more problems from here on: fix these first", n-maxErrors)})
		}
		return nil, p.errs
	}
	return f, nil
}

// maxErrors bounds the problems listed: past it, a screenful of one
// mistake repeated helps no one.
const maxErrors = 50

// Names returns the tunnels' names in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Defs))
	for i, d := range f.Defs {
		names[i] = d.Name
	}
	return names
}

// Select returns the named tunnels in the order given (duplicates
// dropped), or every tunnel in file order if all is set.
func (f *File) Select(names []string, all bool) ([]TunnelDef, error) {
	switch {
	case all && len(names) > 0:
		return nil, errors.New("--all starts every tunnel: give either names or --all")
	case all && len(f.Defs) == 0:
		return nil, fmt.Errorf("%s defines no tunnels: add some under tunnels: (see `wsgrok config check`)", f.Path)
	case all:
		return slices.Clone(f.Defs), nil
	case len(names) == 0:
		return nil, fmt.Errorf("name the tunnels to start, or pass --all (%s)", f.known())
	}
	var out []TunnelDef
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		i := slices.IndexFunc(f.Defs, func(d TunnelDef) bool { return d.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("no tunnel %q in %s%s (%s)", n, f.Path, suggest(n, f.Names()), f.known())
		}
		out = append(out, f.Defs[i])
	}
	return out, nil
}

func (f *File) known() string {
	if len(f.Defs) == 0 {
		return f.Path + " defines none"
	}
	return "known: " + strings.Join(f.Names(), ", ")
}

// Tunnels returns the named tunnels (or all of them) for agent.Config.
func (f *File) Tunnels(names []string, all bool) ([]agent.Tunnel, error) {
	defs, err := f.Select(names, all)
	if err != nil {
		return nil, err
	}
	out := make([]agent.Tunnel, len(defs))
	for i, d := range defs {
		out[i] = d.AgentTunnel()
	}
	return out, nil
}

// AgentTunnel converts the definition for agent.Config.
func (d TunnelDef) AgentTunnel() agent.Tunnel {
	t := agent.Tunnel{Upstream: d.Addr, Options: d.Policy.Options()}
	switch d.Proto {
	case "tcp":
		t.Kind, t.Port = wire.KindTCP, d.RemotePort
		if _, err := strconv.Atoi(d.Addr); err == nil {
			t.Upstream = "127.0.0.1:" + d.Addr
		}
	default:
		t.Kind, t.Subdomain, t.HostHeader = wire.KindHTTP, d.Subdomain, d.HostHeader
	}
	return t
}
