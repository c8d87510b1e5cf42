package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/wsgrok/wsgrok/agent/config"
	"github.com/wsgrok/wsgrok/agent/update"
)

// common are the flags of every command that runs tunnels.
type common struct {
	edge, authtoken, ca, serverName, log, config string
	updateURL                                    string
	pool                                         int
	upstreamTimeout                              time.Duration
	verifyUpstream                               bool
	inspect                                      inspectFlags // inspector.go

	// file is the config file once ff has read it; nil when there is none.
	file *config.File
}

func defaultConfigPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "wsgrok.yml"
	}
	return filepath.Join(dir, "wsgrok", "wsgrok.yml")
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.edge, "edge", "127.0.0.1:4443", "edge agent address host:port (env WSGROK_EDGE)")
	fs.StringVar(&c.authtoken, "authtoken", "", "authtoken from the dashboard (env WSGROK_AUTHTOKEN, or store it with: wsgrok config add-authtoken)")
	fs.StringVar(&c.ca, "ca", "", "PEM file of a CA to trust for the edge (its development CA)")
	fs.StringVar(&c.serverName, "server-name", "", "TLS name to verify on the edge's certificate (default: the edge's host)")
	fs.IntVar(&c.pool, "pool", 1, "parallel sessions to the edge, 1-16")
	fs.StringVar(&c.log, "log", "false", "log: false, stdout, stderr, or a file path (stdout, or stderr on a terminal, replaces the live screen with plain lines)")
	fs.DurationVar(&c.upstreamTimeout, "upstream-timeout", 60*time.Second, "how long the local service may take to start answering")
	fs.BoolVar(&c.verifyUpstream, "upstream-tls-verify", false, "verify https:// local services' certificates")
	fs.StringVar(&c.config, "config", defaultConfigPath(), "config file (YAML; env WSGROK_CONFIG)")
	fs.StringVar(&c.updateURL, "update-url", update.DefaultManifestURL, "release manifest URL checked at start for a newer wsgrok; empty: no check (env WSGROK_UPDATE_URL)")
	c.inspect.register(fs)
}

// options are ff's settings for a command with common flags: flags, then
// WSGROK_* variables, then the config file.
func (c *common) options() []ff.Option {
	return []ff.Option{
		ff.WithEnvVarPrefix("WSGROK"),
		ff.WithConfigFileFlag("config"),
		ff.WithConfigFileParser(c.parseConfig),
		ff.WithAllowMissingConfigFile(true),
		ff.WithIgnoreUndefined(true),
	}
}

// parseConfig is ff's config file parser. It reads the file with package
// config rather than ffyaml, so that a mistake anywhere in it is reported
// with its line (as `wsgrok config check` does), the YAML's key names
// (server_name) map to the flags' (--server-name), and values are read as
// YAML 1.2 (ffyaml's YAML 1.1 turns "server_name: y" into true). ff sets
// only the flags that no flag or variable has set. The tunnels are kept
// for `start`.
func (c *common) parseConfig(r io.Reader, set func(name, value string) error) error {
	f, err := config.Read(r, c.config)
	if err != nil {
		return summarize(err)
	}
	c.file = f
	for _, kv := range []struct{ flag, value string }{
		{"authtoken", f.Authtoken}, {"edge", f.Edge}, {"ca", f.CA}, {"server-name", f.ServerName},
		{"log", f.Log}, {"inspect-addr", f.InspectAddr}, // ignored until a command has the flag
	} {
		if kv.value != "" {
			if err := set(kv.flag, kv.value); err != nil {
				return err
			}
		}
	}
	if f.Pool > 0 {
		return set("pool", strconv.Itoa(f.Pool))
	}
	return nil
}

// check validates what the flag package cannot.
func (c *common) check() error {
	if c.pool < 1 || c.pool > 16 {
		return usageErr("--pool %d: use 1-16 parallel sessions", c.pool)
	}
	return nil
}

// summarize makes a config file's problems one line: the first, and how
// to see the rest.
func summarize(err error) error {
	var errs config.Errors
	if errors.As(err, &errs) && len(errs) > 1 {
		return fmt.Errorf("%v (and %d more: wsgrok config check --config %s lists them)", errs[0], len(errs)-1, errs[0].File)
	}
	return err
}

// policyFlags are a tunnel's policies on the command line; they travel to
// the edge as BIND options, like the config file's.
type policyFlags struct {
	config.Policy
}

func (p *policyFlags) register(fs *flag.FlagSet, http bool) {
	fs.Var(&listFlag{&p.AllowCIDR, config.CheckCIDR, true}, "allow-cidr", "let in only clients from this network (CIDR; repeat or separate with commas)")
	fs.Var(&listFlag{&p.DenyCIDR, config.CheckCIDR, true}, "deny-cidr", "keep out clients from this network (CIDR; repeat or separate with commas)")
	if http {
		fs.Var(&listFlag{&p.BlockPath, config.CheckPath, false}, "block-path", "refuse requests under this path prefix, such as /admin (repeatable)")
		fs.Var(&listFlag{&p.BasicAuth, config.CheckBasicAuth, false}, "basic-auth", "require these credentials, user:password (repeatable)")
	}
	fs.IntVar(&p.RateLimit, "rate-limit", 0, "requests a minute allowed per client address (default: no limit)")
}

func (p *policyFlags) check() error {
	if p.RateLimit != 0 {
		if err := config.CheckRateLimit(p.RateLimit); err != nil {
			return usageErr("--rate-limit: %v", err)
		}
	}
	return nil
}

// listFlag is a repeatable flag whose values are checked as they come.
type listFlag struct {
	vals  *[]string
	check func(string) error
	comma bool // values may also be separated by commas
}

func (l *listFlag) String() string {
	if l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, ",")
}

func (l *listFlag) Set(s string) error {
	parts := []string{s}
	if l.comma {
		parts = strings.Split(s, ",")
	}
	for _, v := range parts {
		v = strings.TrimSpace(v)
		if err := l.check(v); err != nil {
			return err
		}
		*l.vals = append(*l.vals, v)
	}
	return nil
}
