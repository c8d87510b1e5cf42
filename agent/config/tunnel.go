package config

import (
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

// The keys of a tunnel, and those of one protocol only.
var (
	tunnelKeys = []string{"proto", "addr", "subdomain", "host_header", "remote_port", "allow_cidr", "deny_cidr", "block_path", "basic_auth", "rate_limit", "inspect"}
	httpOnly   = []string{"subdomain", "host_header", "block_path", "basic_auth"}
	tcpOnly    = []string{"remote_port"}
)

// maxListLen bounds each list: a longer one is a mistake, and the BIND
// frame carrying them is bounded anyway.
const maxListLen = 100

func (p *parser) tunnels(f *File, v *yaml.Node) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "tunnels must be a mapping of names to tunnels (web: {proto: http, addr: 3000}), not %s", describe(v))
		return
	}
	x := &crossCheck{subdomains: map[string]placed{}, ports: map[int]placed{}}
	p.each(v, func(name string, first int) string {
		return fmt.Sprintf("duplicate tunnel name %q (first defined on line %d): rename one of them", name, first)
	}, func(k, v *yaml.Node) {
		f.Defs = append(f.Defs, p.tunnel(k, v, x))
	})
}

// crossCheck finds two tunnels of one file asking for the same public
// name or port: the edge would bind both to one, which is never meant.
type crossCheck struct {
	subdomains map[string]placed
	ports      map[int]placed
}

type placed struct {
	tunnel string
	line   int
}

// field is one key of a tunnel, with its nodes for messages.
type field struct{ k, v *yaml.Node }

func (p *parser) tunnel(k, v *yaml.Node, x *crossCheck) TunnelDef {
	name := k.Value
	d := TunnelDef{Name: name, Line: k.Line}
	if err := checkTunnelName(name); err != nil {
		p.errorf(k, "%v", err)
	}
	if isNull(v) {
		p.errorf(k, "tunnel %q is empty: give it at least proto and addr", name)
		return d
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "tunnel %q must be a mapping of keys (proto, addr, ...), not %s", name, describe(v))
		return d
	}
	where := fmt.Sprintf(" in tunnel %q", name)
	fields := map[string]field{}
	p.each(v, func(key string, first int) string {
		return fmt.Sprintf("duplicate key %q%s (first on line %d): keep one", key, where, first)
	}, func(k, v *yaml.Node) {
		if !slices.Contains(tunnelKeys, k.Value) {
			p.unknownKey(k, where, tunnelKeys, topKeys, "at the top level, not in a tunnel")
			return
		}
		fields[k.Value] = field{k, v}
	})

	if fl, ok := fields["proto"]; !ok || isNull(fl.v) {
		p.errorf(k, "tunnel %q has no proto: add proto: http or proto: tcp", name)
	} else if s, ok := p.scalar("proto"+where, fl.v, "http or tcp"); ok {
		if s == "http" || s == "tcp" {
			d.Proto = s
		} else {
			p.errorf(fl.v, "unknown proto %q in tunnel %q: use http or tcp", s, name)
		}
	}
	if fl, ok := fields["addr"]; !ok || isNull(fl.v) {
		p.errorf(k, "tunnel %q has no addr: add the local port or address to forward to, such as addr: 3000", name)
	} else if s, ok := p.scalar("addr"+where, fl.v, "a port or address"); ok {
		d.Addr = s
		switch d.Proto {
		case "http":
			p.check(fl.v, "addr"+where, checkHTTPAddr(s))
		case "tcp":
			p.check(fl.v, "addr"+where, checkTCPAddr(s))
		}
	}

	for key, fl := range fields {
		switch {
		case d.Proto == "tcp" && slices.Contains(httpOnly, key):
			hint := ""
			if key == "subdomain" {
				hint = " (tcp tunnels take remote_port)"
			}
			p.errorf(fl.k, "%s is for http tunnels, and tunnel %q is tcp: remove it%s", key, name, hint)
			delete(fields, key)
		case d.Proto == "http" && slices.Contains(tcpOnly, key):
			p.errorf(fl.k, "%s is for tcp tunnels, and tunnel %q is http: remove it (http tunnels take subdomain)", key, name)
			delete(fields, key)
		}
	}
	p.tunnelValues(&d, fields, where, x)
	if n := optionsSize(d.Policy.Options()); n > maxOptionsBytes {
		p.errorf(k, "the policies of tunnel %q take %d bytes, more than the %d a tunnel request can carry: shorten the lists", name, n, maxOptionsBytes)
	}
	return d
}

// tunnelValues reads the optional keys of a tunnel.
func (p *parser) tunnelValues(d *TunnelDef, fields map[string]field, where string, x *crossCheck) {
	if fl, ok := fields["subdomain"]; ok {
		if s, ok := p.scalar("subdomain"+where, fl.v, "a name"); ok {
			if p.check(fl.v, "subdomain"+where, CheckSubdomain(s)) {
				if o, dup := x.subdomains[s]; dup {
					p.errorf(fl.v, "subdomain %q is also asked for by tunnel %q (line %d): give each tunnel its own", s, o.tunnel, o.line)
				} else {
					x.subdomains[s] = placed{d.Name, fl.v.Line}
				}
			}
			d.Subdomain = s
		}
	}
	if fl, ok := fields["host_header"]; ok {
		if s, ok := p.scalar("host_header"+where, fl.v, "rewrite or a host"); ok {
			if s == "" || hasSpaceOrControl(s) || len(s) > 255 {
				p.errorf(fl.v, "host_header%s is %q: use rewrite (the local address) or a host such as example.com", where, s)
			}
			d.HostHeader = s
		}
	}
	if fl, ok := fields["remote_port"]; ok {
		if n, ok := p.integer("remote_port"+where, fl.v); ok {
			if n < 1 || n > 65535 {
				p.errorf(fl.v, "remote_port%s is %d: use a port 1-65535, or leave it out for any", where, n)
			} else if o, dup := x.ports[n]; dup {
				p.errorf(fl.v, "remote_port %d is also asked for by tunnel %q (line %d): give each tunnel its own", n, o.tunnel, o.line)
			} else {
				x.ports[n] = placed{d.Name, fl.v.Line}
			}
			d.RemotePort = n
		}
	}
	pol := &d.Policy
	for _, l := range []struct {
		key   string
		dst   *[]string
		check func(string) error
	}{
		{"allow_cidr", &pol.AllowCIDR, CheckCIDR},
		{"deny_cidr", &pol.DenyCIDR, CheckCIDR},
		{"block_path", &pol.BlockPath, CheckPath},
		{"basic_auth", &pol.BasicAuth, CheckBasicAuth},
	} {
		if fl, ok := fields[l.key]; ok {
			for _, item := range p.list(l.key+where, fl.v) {
				p.check(item, l.key+where, l.check(item.Value))
				*l.dst = append(*l.dst, item.Value)
			}
		}
	}
	if fl, ok := fields["rate_limit"]; ok {
		if n, ok := p.integer("rate_limit"+where, fl.v); ok {
			p.check(fl.v, "rate_limit"+where, CheckRateLimit(n))
			pol.RateLimit = n
		}
	}
	if fl, ok := fields["inspect"]; ok {
		if b, ok := p.boolean("inspect"+where, fl.v); ok {
			pol.Inspect = &b
		}
	}
}
