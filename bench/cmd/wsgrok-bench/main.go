// Command wsgrok-bench is an HTTP, HTTP/2 and WebSocket load generator, and
// the end-to-end benchmark suite of wsgrok.
//
//	wsgrok-bench [flags] URL [URL...]   load each URL in turn and compare them
//	wsgrok-bench suite [flags]          backend direct vs through wsgrok (make bench)
//	wsgrok-bench relay [flags]          one half of the bare relay, the suite's floor
//
// Closed loop by default: -c connections, each sending its next request
// when the previous one ended. -rate R makes it open-loop: requests are due
// at fixed times and latency counts from the time each was due, so a stall
// is not hidden (coordinated omission). Latencies go into an HDR-style
// histogram (under 1% error); the report has req/s, MiB/s (body bytes both
// ways), p50, p90, p99, p99.9, max and errors, as a table, JSON or SVG.
//
// Examples:
//
//	wsgrok-bench -c 64 -d 10s http://demo.localhost:8080/hello
//	wsgrok-bench -h2 -c 16 -streams 16 --ca .run/edge/ca.pem https://demo.localhost:8443/hello
//	wsgrok-bench -rate 2000 -c 32 http://127.0.0.1:3000/hello
//	wsgrok-bench -body 1MiB -c 8 http://127.0.0.1:3000/echo
//	wsgrok-bench -download 'http://127.0.0.1:3000/bytes?n=104857600'
//	wsgrok-bench -ws -msg 1KiB -c 16 ws://demo.localhost:8080/ws
//
// Hosts under .localhost are dialed on 127.0.0.1; -connect-to dials a given
// address for any host.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsgrok/wsgrok/agent/flagorder"
	"github.com/wsgrok/wsgrok/bench/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "suite" {
		return suite(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "relay" {
		return relay(ctx, args[1:], stdout, stderr)
	}
	return load(ctx, args, stdout, stderr)
}

// sizeFlag parses 1048576, 64k, 64KiB, 1M, 1MiB, 1G (binary units).
type sizeFlag int

func (s *sizeFlag) String() string { return strconv.Itoa(int(*s)) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	*s = sizeFlag(n)
	return err
}

func parseSize(v string) (int, error) {
	num, unit := v, ""
	if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		num, unit = v[:i], strings.ToLower(v[i:])
	}
	n, err := strconv.Atoi(num)
	shift, ok := map[string]int{
		"": 0, "b": 0,
		"k": 10, "kb": 10, "kib": 10,
		"m": 20, "mb": 20, "mib": 20,
		"g": 30, "gb": 30, "gib": 30,
	}[unit]
	if err != nil || !ok || n < 0 || n > 1<<(62-shift) {
		return 0, fmt.Errorf("size %q: want bytes, or a number with k, KiB, M, MiB, G or GiB", v)
	}
	return n << shift, nil
}

func load(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsgrok-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wsgrok-bench [flags] URL [URL...]\n       wsgrok-bench suite [flags]   (wsgrok-bench suite -h)\n       wsgrok-bench relay [flags]   (wsgrok-bench relay -h)")
		fs.PrintDefaults()
	}
	var cfg harness.Config
	var body, msg sizeFlag = 0, 1 << 10
	fs.IntVar(&cfg.Conns, "c", 1, "connections (each a worker; with -h2, each carries -streams workers)")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "duration of the measured run")
	fs.Int64Var(&cfg.Requests, "n", 0, "total requests instead of a duration")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "run the load this long first, unmeasured")
	fs.StringVar(&cfg.Method, "method", "", "request method (default GET, or POST with -body)")
	fs.Var(&body, "body", "request body `size` (random bytes, e.g. 1MiB)")
	fs.BoolVar(&cfg.Client.H2, "h2", false, "HTTP/2: over TLS for https://, h2c with prior knowledge for http://")
	fs.IntVar(&cfg.Streams, "streams", 1, "concurrent HTTP/2 streams per connection")
	fs.StringVar(&cfg.Client.CAFile, "ca", "", "PEM `file` of a CA to trust (e.g. the edge's development CA)")
	fs.BoolVar(&cfg.Client.Insecure, "insecure", false, "do not verify TLS certificates")
	fs.StringVar(&cfg.Client.ConnectTo, "connect-to", "", "dial this `host:port` whatever the URL's host")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "per request or round trip")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: requests per `second`, latency from each one's due time")
	fs.IntVar(&cfg.Backlog, "backlog", 0, "open loop: due requests that may wait for a worker before being dropped (default rate×1s)")
	fs.BoolVar(&cfg.WS, "ws", false, "WebSocket round trips (ws://, wss://, or http(s):// URLs)")
	fs.Var(&msg, "msg", "WebSocket message `size`")
	download := fs.Bool("download", false, "one GET per connection of a large body; report MiB/s (-n or -d to repeat)")
	jsonOut := fs.String("json", "", "write the results as JSON to this `file`")
	svgOut := fs.String("svg", "", "write a latency and throughput plot to this SVG `file`")
	quiet := fs.Bool("q", false, "no progress line")
	if err := fs.Parse(flagorder.FlagsFirst(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg.Body, cfg.MsgSize = int(body), int(msg)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *download && !set["n"] && !set["d"] {
		cfg.Requests, cfg.Duration = int64(max(cfg.Conns, 1)), 0
	} else if set["n"] && !set["d"] {
		cfg.Duration = 0
	}
	if !*quiet {
		cfg.Progress = stderr
		cfg.ProgressLines = !isTerminal(stderr)
	}

	var results []harness.Summary
	for _, u := range fs.Args() {
		c := cfg
		c.URL, c.Label = u, u
		if fs.NArg() == 1 {
			c.Label = ""
		}
		r, err := harness.Run(ctx, c)
		if err != nil {
			fmt.Fprintf(stderr, "wsgrok-bench: %v\n", err)
			return 1
		}
		r.Label = u
		results = append(results, r.Summary(*jsonOut != "" || *svgOut != ""))
		if ctx.Err() != nil {
			break
		}
	}
	harness.WriteText(stdout, results)
	if *jsonOut != "" {
		out := struct {
			Machine harness.Machine   `json:"machine"`
			Args    []string          `json:"args"`
			Results []harness.Summary `json:"results"`
		}{harness.ThisMachine(), args, results}
		if err := writeJSON(*jsonOut, out); err != nil {
			fmt.Fprintf(stderr, "wsgrok-bench: %v\n", err)
			return 1
		}
	}
	if *svgOut != "" {
		if err := writeSVG(*svgOut, chartOf(cfg, *download, args, results)); err != nil {
			fmt.Fprintf(stderr, "wsgrok-bench: %v\n", err)
			return 1
		}
	}
	return 0
}

// chartOf plots the URLs of one invocation as the contenders of one panel;
// the bars are MiB/s when bodies are the point, req/s otherwise.
func chartOf(cfg harness.Config, download bool, args []string, results []harness.Summary) harness.Chart {
	p := harness.Panel{Title: "wsgrok-bench " + strings.Join(args, " "), Unit: "req/s"}
	bulk := download || cfg.Body >= 64<<10 || (cfg.WS && cfg.MsgSize >= 64<<10)
	if bulk {
		p.Unit = "MiB/s"
	}
	for _, s := range results {
		v := s.RPS
		if bulk {
			v = s.MiBps
		}
		p.Bars = append(p.Bars, harness.Bar{Name: s.Label, Value: v})
		p.Curves = append(p.Curves, harness.Series{Name: s.Label, Points: s.Curve})
	}
	return harness.Chart{Title: "wsgrok-bench", Subtitle: []string{harness.ThisMachine().String()}, Panels: []harness.Panel{p}}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func writeSVG(path string, c harness.Chart) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := harness.WriteSVG(f, c); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readReport(path string) (*harness.SuiteReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := new(harness.SuiteReport)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// isTerminal reports whether w is a character device, where the progress
// line can rewrite itself with \r.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func suite(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsgrok-bench suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// -quick changes the defaults of the other flags, so it is read first.
	quick := false
	for _, a := range args {
		if a == "-quick" || a == "--quick" || a == "-quick=true" || a == "--quick=true" {
			quick = true
		}
	}
	cfg := harness.DefaultSuite(quick)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: wsgrok-bench suite [flags]\n\n"+
			"Runs wsgrok-backend, wsgrok-edge and an agent from -bin (make build), loads the\n"+
			"backend directly, through the bare relay (the floor: wsgrok-bench relay -h) and\n"+
			"through the edge, and writes latest.{json,md,svg} to -out.\n"+
			"Scenarios: %s\n\n", strings.Join(harness.Scenarios(), ", "))
		fs.PrintDefaults()
	}
	fs.Bool("quick", quick, "one short round of everything, fewer idle connections and agents (for development)")
	fs.StringVar(&cfg.Bin, "bin", cfg.Bin, "`directory` with wsgrok-edge, wsgrok, wsgrok-backend and wsgrok-bench")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "`directory` for latest.json, latest.md and latest.svg (empty: none)")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds per scenario; each contender runs once per round")
	fs.DurationVar(&cfg.Duration, "d", cfg.Duration, "measured duration of each run")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured load before each run")
	fs.IntVar(&cfg.Downloads, "downloads", cfg.Downloads, "100 MiB GETs per run of download-100mib")
	fs.IntVar(&cfg.IdleConns, "idle-conns", cfg.IdleConns, "connections held by the idle-conns scenario")
	fs.IntVar(&cfg.Agents, "agents", cfg.Agents, "agent sessions of the agent-sessions scenario")
	fs.StringVar(&cfg.Name, "name", cfg.Name, "tunnel name of the backend")
	fs.DurationVar(&cfg.Patience, "patience", cfg.Patience, "total time to spend waiting for other processes to leave the CPU and re-running runs they disturbed")
	only := fs.String("only", "", "run only these scenarios (comma-separated name prefixes, e.g. small,h2)")
	skip := fs.String("skip", "", "skip these scenarios (comma-separated name prefixes)")
	maxTime := fs.Duration("max-time", 20*time.Minute, "stop everything after this long")
	render := fs.String("render", "", "run nothing: re-render the tables and SVG from this JSON `file` (a latest.json) into -out")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wsgrok-bench suite: unexpected arguments %q\n", fs.Args())
		return 2
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	cfg.Only, cfg.Skip = split(*only), split(*skip)
	cfg.Log, cfg.Live = stderr, isTerminal(stderr)
	cfg.Command = strings.Join(append([]string{"wsgrok-bench", "suite"}, args...), " ")

	var report *harness.SuiteReport
	var err error
	if *render != "" {
		report, err = readReport(*render)
		if err == nil && cfg.Out != "" {
			err = report.WriteFiles(cfg.Out)
		}
	} else {
		ctx, cancel := context.WithTimeout(ctx, *maxTime)
		defer cancel()
		report, err = harness.RunSuite(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsgrok-bench suite: %v\n", err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	fmt.Fprintln(stdout)
	report.WriteText(stdout)
	if cfg.Out != "" {
		fmt.Fprintf(stdout, "wrote %s/latest.json, latest.md and latest.svg\n", cfg.Out)
	}
	return 0
}

// relay runs one half of the bare relay that the suite measures beside
// wsgrok (harness.RelayConfig says what it is). It prints one line,
// "wsgrok-bench relay listening on ADDR", once it listens.
func relay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsgrok-bench relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg harness.RelayConfig
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: wsgrok-bench relay -to host:port [flags]\n\n"+
			"One half of a bare TCP/TLS relay with wsgrok's shape and nothing else: the\n"+
			"public half (-dial-ca) carries each connection over TLS to the backend half\n"+
			"(-cert-out), which connects to the backend. The suite runs both as its floor.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:0", "`address` to listen on")
	fs.StringVar(&cfg.To, "to", "", "`address` to connect each accepted connection to")
	fs.StringVar(&cfg.CertOut, "cert-out", "", "listen with TLS, on a fresh self-signed certificate written to this PEM `file`")
	fs.StringVar(&cfg.DialCA, "dial-ca", "", "connect to -to over TLS, trusting this PEM `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wsgrok-bench relay: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg.Ready = func(a net.Addr) { fmt.Fprintf(stdout, "wsgrok-bench relay listening on %s\n", a) }
	if err := harness.Relay(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "wsgrok-bench relay: %v\n", err)
		return 1
	}
	return 0
}
