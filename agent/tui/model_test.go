package tui

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/wire"
)

// clock is a settable time for the board and the model.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// fixture is a model over its own board, rendering plain text unless
// colour is asked for.
type fixture struct {
	t     *testing.T
	clock *clock
	board *board
	m     model
}

func newFixture(t *testing.T, opts Options, profile termenv.Profile) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2025, 6, 1, 15, 4, 5, 0, time.UTC)}
	r := lipgloss.NewRenderer(&bytes.Buffer{})
	r.SetColorProfile(profile)
	b := newBoard(c.now(), opts.Label)
	return &fixture{t: t, clock: c, board: b, m: newModel(opts, b, newStyles(r), c.now)}
}

func (f *fixture) send(msgs ...tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	for _, msg := range msgs {
		var m tea.Model
		m, cmd = f.m.Update(msg)
		f.m = m.(model)
	}
	return cmd
}

// view refreshes from the board and renders.
func (f *fixture) view() string {
	f.send(refreshMsg{})
	return f.m.View()
}

// line returns the first line of view holding every one of parts, in
// order, or fails.
func (f *fixture) line(view string, parts ...string) string {
	f.t.Helper()
	for _, l := range strings.Split(view, "\n") {
		rest, ok := l, true
		for _, p := range parts {
			i := strings.Index(rest, p)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(p):]
		}
		if ok {
			return l
		}
	}
	f.t.Fatalf("no line with %q in:\n%s", parts, view)
	return ""
}

// counters is the row under "Connections": ttl opn rt1 rt5 p50 p90.
func counters(t *testing.T, view string) string {
	t.Helper()
	lines := strings.Split(view, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Connections") && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	t.Fatalf("no Connections in:\n%s", view)
	return ""
}

func httpTunnel(upstream string) *agent.Tunnel {
	return &agent.Tunnel{Kind: wire.KindHTTP, Upstream: upstream}
}

func TestViewSession(t *testing.T) {
	f := newFixture(t, Options{Version: "1.2.3", Edge: "edge.example.com:4443", Inspector: "http://127.0.0.1:4040"}, termenv.Ascii)
	f.send(tea.WindowSizeMsg{Width: 100, Height: 40})
	v := f.view()
	f.line(v, "wsgrok", "1.2.3", "(Ctrl+C to quit)")
	f.line(v, "Session Status", "connecting")
	f.line(v, "Account", "-")
	f.line(v, "Forwarding", "waiting for the edge...")
	f.line(v, "Web Interface", "http://127.0.0.1:4040")
	if l := f.line(v, "Edge", "edge.example.com:4443"); strings.Contains(l, "RTT") {
		t.Errorf("RTT before any was measured: %q", l)
	}

	f.board.setStatus("online", nil)
	f.send(sessionsMsg{[]SessionInfo{{Account: "alice", RTT: 12 * time.Millisecond, Streams: 3}}})
	v = f.view()
	f.line(v, "Session Status", "online")
	f.line(v, "Account", "alice")
	f.line(v, "Version", "1.2.3")
	f.line(v, "Edge", "edge.example.com:4443 (RTT 12ms)")
	f.line(v, "Connections", "ttl", "opn", "p50", "p90")
	f.line(v, "0", "3", "-", "-") // no request yet, three streams open

	f.send(sessionsMsg{[]SessionInfo{{Account: "alice", RTT: 10 * time.Millisecond, Streams: 1}, {Account: "alice", RTT: 20 * time.Millisecond, Streams: 1}}})
	f.line(f.view(), "Edge", "(RTT 15ms, 2 sessions)")

	f.board.setStatus("reconnecting", errors.New("wsgrok: edge edge.example.com:4443 unreachable: connection refused; retrying in 1s"))
	v = f.view()
	f.line(v, "Session Status", "reconnecting (edge edge.example.com:4443 unreachable:")
	f.line(v, "refused; retrying in 1s)")
	f.line(v, "Account", "alice")
}

func TestViewForwarding(t *testing.T) {
	f := newFixture(t, Options{}, termenv.Ascii)
	f.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	web := httpTunnel("3000")
	f.board.forwarding(web, []string{"http://demo.localhost:8080", "https://demo.localhost:8443"})
	v := f.view()
	f.line(v, "Forwarding", "http://demo.localhost:8080 -> http://127.0.0.1:3000")
	f.line(v, "https://demo.localhost:8443 -> http://127.0.0.1:3000")
	if n := strings.Count(v, "Forwarding"); n != 1 {
		t.Errorf("%d Forwarding labels, want one over both URLs:\n%s", n, v)
	}
	if strings.Contains(v, "waiting for the edge") {
		t.Errorf("still waiting:\n%s", v)
	}

	// A reconnect that changes the URL replaces the line.
	f.board.forwarding(web, []string{"https://other.localhost:8443"})
	f.board.forwarding(&agent.Tunnel{Kind: wire.KindTCP, Upstream: "127.0.0.1:22"}, []string{"tcp://localhost:20001"})
	v = f.view()
	if strings.Contains(v, "demo.localhost") {
		t.Errorf("old URL kept:\n%s", v)
	}
	f.line(v, "Forwarding", "https://other.localhost:8443 -> http://127.0.0.1:3000")
	f.line(v, "tcp://localhost:20001 -> tcp://127.0.0.1:22")
}

func TestViewForwardingLabels(t *testing.T) {
	web, api := httpTunnel("3000"), httpTunnel("3001")
	names := map[*agent.Tunnel]string{web: "web", api: "api-v2"}
	f := newFixture(t, Options{Label: func(t *agent.Tunnel) string { return names[t] }}, termenv.Ascii)
	f.board.forwarding(web, []string{"https://web.localhost"})
	f.board.forwarding(api, []string{"https://api.localhost"})
	v := f.view()
	f.line(v, "Forwarding", "web     https://web.localhost -> http://127.0.0.1:3000")
	f.line(v, "api-v2  https://api.localhost -> http://127.0.0.1:3001")
}

func TestViewRequests(t *testing.T) {
	f := newFixture(t, Options{}, termenv.Ascii)
	f.send(tea.WindowSizeMsg{Width: 100, Height: 40})
	tun := httpTunnel("3000")
	for _, r := range []agent.RequestEvent{
		{Method: "GET", Path: "/ok", Status: 200, Duration: 3 * time.Millisecond},
		{Method: "POST", Path: "/hooks/stripe", Status: 302, Duration: 40 * time.Millisecond},
		{Method: "GET", Path: "/missing", Status: 404, Duration: time.Millisecond},
		{Method: "PUT", Path: "/boom", Status: 502, Duration: 1500 * time.Millisecond},
		{Method: "GET", Path: "/down", Err: errors.New("dial tcp 127.0.0.1:3000: connect: connection refused")},
		{Method: "GET", Path: "/\x1b[2Jevil", Status: 200},
	} {
		r.Tunnel = tun
		f.board.request(f.clock.now(), r)
		f.clock.t = f.clock.t.Add(time.Second)
	}
	v := f.view()
	f.line(v, "HTTP Requests")
	f.line(v, "15:04:05", "GET", "/ok", "200 OK", "3.0ms")
	f.line(v, "POST", "/hooks/stripe", "302 Found", "40ms")
	f.line(v, "GET", "/missing", "404 Not Found")
	f.line(v, "PUT", "/boom", "502 Bad Gateway", "1.50s")
	f.line(v, "GET", "/down", "ERR refused")
	f.line(v, "GET", "/?[2Jevil", "200 OK")
	if strings.Contains(v, "\x1b") {
		t.Errorf("escape sequence in a plain view: %q", v)
	}
	// Newest first.
	if i, j := strings.Index(v, "/down"), strings.Index(v, "/ok"); i > j {
		t.Errorf("/down (newer) below /ok:\n%s", v)
	}
	f.line(v, "Connections")
	f.line(v, "6") // total

	// Only the latest ten are listed.
	for i := range 20 {
		f.board.request(f.clock.now(), agent.RequestEvent{Tunnel: tun, Method: "GET", Path: fmt.Sprintf("/n%d", i), Status: 204})
	}
	v = f.view()
	if strings.Contains(v, "/n9 ") || !strings.Contains(v, "/n10") || !strings.Contains(v, "/n19") {
		t.Errorf("want /n10../n19 listed:\n%s", v)
	}
	f.line(v, "26")
}

func TestViewRequestColours(t *testing.T) {
	f := newFixture(t, Options{}, termenv.ANSI)
	tun := httpTunnel("3000")
	for _, st := range []int{200, 301, 404, 503} {
		f.board.request(f.clock.now(), agent.RequestEvent{Tunnel: tun, Method: "GET", Path: fmt.Sprintf("/s%d", st), Status: st})
	}
	f.board.request(f.clock.now(), agent.RequestEvent{Tunnel: tun, Method: "GET", Path: "/err", Err: errors.New("connection refused")})
	v := f.view()
	for path, colour := range map[string]string{"/s200": "32", "/s301": "36", "/s404": "33", "/s503": "31", "/err": "31"} {
		l := f.line(v, path)
		if !strings.Contains(l, "\x1b["+colour+"m") {
			t.Errorf("%s: want colour %s in %q", path, colour, l)
		}
	}
}

// TestNoColor checks that NO_COLOR wins even over CLICOLOR_FORCE, with the
// renderer's own detection (no profile set by the test).
func TestNoColor(t *testing.T) {
	render := func() string {
		b := newBoard(time.Now(), nil)
		b.setStatus("online", nil)
		b.request(time.Now(), agent.RequestEvent{Tunnel: httpTunnel("3000"), Method: "GET", Path: "/", Status: 500})
		m := newModel(Options{Version: "1"}, b, newStyles(lipgloss.NewRenderer(&bytes.Buffer{})), time.Now)
		return m.View()
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("CLICOLOR_FORCE", "1")
	if v := render(); !strings.Contains(v, "\x1b[") {
		t.Fatalf("CLICOLOR_FORCE=1: no colour in %q", v)
	}
	t.Setenv("NO_COLOR", "1")
	if v := render(); strings.Contains(v, "\x1b") {
		t.Errorf("NO_COLOR=1: escape sequences in %q", v)
	}
}

func TestViewPercentiles(t *testing.T) {
	f := newFixture(t, Options{}, termenv.Ascii)
	tun := httpTunnel("3000")
	// An old slow one that falls out of the window, then 1ms..10ms.
	f.board.request(f.clock.now(), agent.RequestEvent{Tunnel: tun, Method: "GET", Path: "/", Status: 200, Duration: 9 * time.Second})
	f.clock.t = f.clock.t.Add(2 * time.Minute)
	for i := 1; i <= 10; i++ {
		f.board.request(f.clock.now(), agent.RequestEvent{Tunnel: tun, Method: "GET", Path: "/", Status: 200, Duration: time.Duration(i) * time.Millisecond})
	}
	// Failures and TCP connections do not count toward latency.
	f.board.request(f.clock.now(), agent.RequestEvent{Tunnel: tun, Method: "GET", Path: "/", Err: errors.New("refused"), Duration: time.Hour})
	f.board.request(f.clock.now(), agent.RequestEvent{Tunnel: &agent.Tunnel{Kind: wire.KindTCP, Upstream: "127.0.0.1:22"}, ClientAddr: "1.2.3.4:5", Duration: time.Hour})
	v := f.view()
	if got, want := strings.Fields(counters(t, v)), []string{"13", "0", "0.20", "0.11", "5.0ms", "9.0ms"}; !slices.Equal(got, want) {
		t.Errorf("counters %q, want %q", got, want)
	}
	f.line(v, "TCP", "1.2.3.4:5", "closed")

	// A minute later the window is empty again.
	f.clock.t = f.clock.t.Add(61 * time.Second)
	f.send(tickMsg{})
	if got, want := strings.Fields(counters(t, f.m.View())), []string{"13", "0", "0.00", "0.07", "-", "-"}; !slices.Equal(got, want) {
		t.Errorf("a minute later: counters %q, want %q", got, want)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var d []time.Duration
		for _, n := range ns {
			d = append(d, time.Duration(n)*time.Millisecond)
		}
		return d
	}
	for _, tt := range []struct {
		in      []time.Duration
		p       int
		want    time.Duration
		comment string
	}{
		{nil, 50, 0, "none"},
		{ms(7), 50, 7 * time.Millisecond, "one"},
		{ms(7), 90, 7 * time.Millisecond, "one"},
		{ms(1, 2), 50, time.Millisecond, "nearest rank"},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond, "ten"},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 90, 10 * time.Millisecond, "eleven"},
	} {
		if got := percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("%s: p%d of %v = %v, want %v", tt.comment, tt.p, tt.in, got, tt.want)
		}
	}
}

func TestKeysQuit(t *testing.T) {
	for _, k := range []tea.KeyMsg{
		{Type: tea.KeyCtrlC},
		{Type: tea.KeyRunes, Runes: []rune("q")},
		{Type: tea.KeyRunes, Runes: []rune("Q")},
	} {
		f := newFixture(t, Options{}, termenv.Ascii)
		cmd := f.send(k)
		if cmd == nil {
			t.Errorf("%v: no command", k)
			continue
		}
		if _, ok := cmd().(tea.QuitMsg); !ok || !f.m.interrupted {
			t.Errorf("%v: %T, interrupted %v", k, cmd(), f.m.interrupted)
		}
	}
	f := newFixture(t, Options{}, termenv.Ascii)
	if cmd := f.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("x")}); cmd != nil {
		t.Errorf("x: a command %T", cmd())
	}
}

// TestViewFits resizes down to one column: no panic, no line wider than
// the window (a wider one would wrap and shift the whole screen), no more
// lines than its height, and the lines that matter keep their start.
func TestViewFits(t *testing.T) {
	for _, profile := range []termenv.Profile{termenv.Ascii, termenv.ANSI} {
		f := newFixture(t, Options{Version: "0.1.0-dev+a-very-long-build-tag", Edge: "a-rather-long-edge-host-name.example.com:4443", Inspector: "http://127.0.0.1:4040"}, profile)
		f.board.setStatus("reconnecting", errors.New(strings.Repeat("a long reason ", 20)))
		f.board.forwarding(httpTunnel("3000"), []string{"https://" + strings.Repeat("x", 60) + ".localhost:8443"})
		tun := httpTunnel("3000")
		f.board.request(f.clock.now(), agent.RequestEvent{Tunnel: tun, Method: "OPTIONS", Path: "/" + strings.Repeat("長い", 40), Status: 200})
		f.board.request(f.clock.now(), agent.RequestEvent{Tunnel: tun, Method: "GET", Path: "/" + strings.Repeat("p", 200), Status: 418})
		f.send(sessionsMsg{[]SessionInfo{{Account: strings.Repeat("acct", 30), RTT: time.Millisecond}}})
		for _, h := range []int{0, 1, 3, 12, 40} {
			for w := 1; w <= 140; w++ {
				f.send(tea.WindowSizeMsg{Width: w, Height: h})
				v := f.view()
				lines := strings.Split(v, "\n")
				if h > 0 && len(lines) > h {
					t.Fatalf("%dx%d: %d lines", w, h, len(lines))
				}
				for _, l := range lines {
					if n := ansi.StringWidth(l); n > w {
						t.Fatalf("%dx%d: line of %d cells: %q", w, h, n, l)
					}
				}
				if w >= 40 && h >= 12 {
					if !strings.HasPrefix(ansi.Strip(lines[0]), "wsgrok") {
						t.Fatalf("%dx%d: title %q", w, h, lines[0])
					}
					f.line(ansi.Strip(v), "Forwarding", "https://xxx")
				}
			}
		}
	}
}

// TestStatusChangePolls checks that going online asks for the sessions at
// once, so that the account shows without waiting for the next tick.
func TestStatusChangePolls(t *testing.T) {
	calls := 0
	f := newFixture(t, Options{Sessions: func() []SessionInfo { calls++; return []SessionInfo{{Account: "alice"}} }}, termenv.Ascii)
	if cmd := f.send(refreshMsg{}); cmd != nil {
		t.Errorf("a refresh with no change polls")
	}
	f.board.setStatus("online", nil)
	cmd := f.send(refreshMsg{})
	if cmd == nil {
		t.Fatal("going online does not poll")
	}
	f.send(cmd())
	if calls != 1 {
		t.Errorf("%d calls", calls)
	}
	f.line(f.m.View(), "Account", "alice")
}
