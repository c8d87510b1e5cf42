package tui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// styles are the screen's colours, bound to the renderer of the output so
// that a terminal without colours (or NO_COLOR) gets plain text.
type styles struct {
	title, faint, green, yellow, cyan, red lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	c := func(n string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(n)) }
	return styles{
		title:  r.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		faint:  r.NewStyle().Faint(true),
		green:  c("2"),
		yellow: c("3"),
		cyan:   c("6"),
		red:    c("1"),
	}
}

// model is the bubbletea model: the last snapshot of the board and of the
// sessions, and the window's size. View is a function of these alone.
type model struct {
	opts   Options
	board  *board
	st     styles
	now    func() time.Time
	width  int // 0 until the first WindowSizeMsg: render for 80 columns
	height int // 0: unbounded

	snap        snapshot
	sessions    []SessionInfo
	interrupted bool // the user pressed Ctrl-C or q
}

// Messages into the program.
type (
	refreshMsg  struct{}                  // the board changed
	tickMsg     struct{}                  // once a second: rates age, RTT changes
	sessionsMsg struct{ s []SessionInfo } // a poll of Options.Sessions
)

func newModel(opts Options, b *board, st styles, now func() time.Time) model {
	m := model{opts: opts, board: b, st: st, now: now}
	m.snap = b.snapshot(now())
	return m
}

func (m model) Init() tea.Cmd { return tea.Batch(m.poll(), tick()) }

func tick() tea.Cmd { return tea.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} }) }

// poll asks for the sessions off the event loop (the callback takes the
// agent's lock).
func (m model) poll() tea.Cmd {
	if m.opts.Sessions == nil {
		return nil
	}
	f := m.opts.Sessions
	return func() tea.Msg { return sessionsMsg{f()} }
}

func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyMsg:
		switch msg.String() {
		case "ctrl+c", "q", "Q":
			m.interrupted = true
			return m, tea.Quit
		case "ctrl+z":
			return m, tea.Suspend
		}
		return m, nil
	case refreshMsg:
		was := m.snap.status
		m.snap = m.board.snapshot(m.now())
		if m.snap.status != was {
			// A session came or went: show its account and RTT now
			// rather than at the next tick.
			return m, m.poll()
		}
	case tickMsg:
		m.snap = m.board.snapshot(m.now())
		return m, tea.Batch(m.poll(), tick())
	case sessionsMsg:
		m.sessions = msg.s
	}
	return m, nil
}

const defaultWidth = 80

func (m model) View() string {
	w := m.width
	if w <= 0 {
		w = defaultWidth
	}
	st := m.st
	labelW := min(max(w/3, 16), 30)
	valueW := max(w-labelW, 1)
	var lines []string
	add := func(s string) { lines = append(lines, s) }
	// row adds "label   value", value truncated to the width and then
	// styled (styling never counts toward the width).
	row := func(label, value string, style *lipgloss.Style) {
		v := trunc(clean(value), valueW)
		if style != nil {
			v = style.Render(v)
		}
		add(fit(label, labelW) + v)
	}

	// Title: "wsgrok 0.1.0" left, "(Ctrl+C to quit)" right.
	left, right := "wsgrok", "(Ctrl+C to quit)"
	ver := ""
	if m.opts.Version != "" {
		ver = " " + clean(m.opts.Version)
	}
	gap := w - len(left) - ansi.StringWidth(ver) - len(right)
	if gap >= 1 {
		add(st.title.Render(left) + st.faint.Render(ver) + strings.Repeat(" ", gap) + st.faint.Render(right))
	} else {
		add(st.title.Render(left) + st.faint.Render(trunc(ver+" "+right, max(w-len(left), 0))))
	}
	add("")

	// Session.
	switch s := m.snap.status; s {
	case "online":
		row("Session Status", "online", &st.green)
	case "", "connecting":
		row("Session Status", "connecting", &st.yellow)
	default:
		v := s
		if m.snap.statusErr != nil {
			v += " (" + errText(m.snap.statusErr) + ")"
		}
		// The reason says what to do: it may take a few lines.
		for i, l := range wrap(clean(v), valueW, maxStatusLines) {
			label := ""
			if i == 0 {
				label = "Session Status"
			}
			row(label, l, &st.yellow)
		}
	}
	account, rtt, measured, open := "", time.Duration(0), 0, 0
	for _, s := range m.sessions {
		if account == "" {
			account = s.Account
		}
		if s.RTT > 0 {
			rtt += s.RTT
			measured++
		}
		open += s.Streams
	}
	if account == "" {
		row("Account", "-", &st.faint)
	} else {
		row("Account", account, nil)
	}
	if m.opts.Version != "" {
		row("Version", m.opts.Version, nil)
	}
	edge := m.opts.Edge
	switch {
	case measured > 0 && len(m.sessions) > 1:
		edge += fmt.Sprintf(" (RTT %s, %d sessions)", fmtMs(rtt/time.Duration(measured)), len(m.sessions))
	case measured > 0:
		edge += " (RTT " + fmtMs(rtt/time.Duration(measured)) + ")"
	}
	row("Edge", edge, nil)
	if m.opts.Inspector != "" {
		row("Web Interface", m.opts.Inspector, nil)
	}
	labelPad := 0
	for _, f := range m.snap.fwd {
		labelPad = max(labelPad, ansi.StringWidth(clean(f.label)))
	}
	first := true
	for _, f := range m.snap.fwd {
		lbl := ""
		if labelPad > 0 {
			lbl = fit(clean(f.label), labelPad) + "  "
		}
		for _, u := range f.urls {
			name := ""
			if first {
				name = "Forwarding"
			}
			first = false
			row(name, lbl+u+" -> "+f.local, nil)
		}
	}
	if first {
		row("Forwarding", "waiting for the edge...", &st.faint)
	}
	add("")

	// Connections.
	colW := min(max((w-labelW)/6, 6), 8)
	cols := func(vs ...string) string {
		var b strings.Builder
		for _, v := range vs {
			b.WriteString(fit(v, colW))
		}
		return strings.TrimRight(b.String(), " ")
	}
	p50, p90 := "-", "-"
	if m.snap.samples > 0 {
		p50, p90 = fmtMs(m.snap.p50), fmtMs(m.snap.p90)
	}
	add(fit("Connections", labelW) + cols("ttl", "opn", "rt1", "rt5", "p50", "p90"))
	add(strings.Repeat(" ", labelW) + cols(strconv.FormatInt(m.snap.total, 10), strconv.Itoa(open),
		fmtRate(m.snap.rt1), fmtRate(m.snap.rt5), p50, p90))

	// Requests, newest first, as many as the height leaves room for.
	if len(m.snap.reqs) > 0 {
		add("")
		add("HTTP Requests")
		add("-------------")
		add("")
		n := len(m.snap.reqs)
		if m.height > 0 {
			n = min(n, max(m.height-len(lines), 0))
		}
		for _, r := range m.snap.reqs[:n] {
			add(m.requestLine(r, w))
		}
	}

	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "")
	}
	if m.height > 0 && len(lines) > m.height {
		// The renderer would keep the bottom lines; the top ones matter.
		lines = lines[:m.height]
	}
	return strings.Join(lines, "\n")
}

// requestLine is one row of "HTTP Requests" for width w:
//
//	15:04:05  GET     /path/of/the/request            200 OK                12ms
//
// The time goes below 70 columns and the duration below 80; the path takes
// what is left and is cut with an ellipsis.
func (m model) requestLine(r request, w int) string {
	st := m.st
	const methodW, statusW = 8, 20
	timeW, durW := 0, 0
	if w >= 70 {
		timeW = 10
	}
	if w >= 80 {
		durW = 8
	}
	pathW := max(w-timeW-methodW-2-statusW-durW, 8)

	status, style := statusText(r), st.green
	switch {
	case r.err != nil:
		style = st.red
	case r.tcp:
		style = lipgloss.Style{}
	case r.status >= 500:
		style = st.red
	case r.status >= 400:
		style = st.yellow
	case r.status >= 300:
		style = st.cyan
	case r.status >= 200:
		style = st.green
	default:
		style = lipgloss.Style{}
	}
	var b strings.Builder
	if timeW > 0 {
		b.WriteString(st.faint.Render(fit(r.at.Format("15:04:05"), timeW)))
	}
	b.WriteString(fit(clean(r.method), methodW))
	b.WriteString(fit(clean(r.path), pathW))
	b.WriteString("  ")
	b.WriteString(style.Render(fit(status, statusW)))
	if durW > 0 {
		b.WriteString(st.faint.Render(fmt.Sprintf("%*s", durW, fmtMs(r.dur))))
	}
	return strings.TrimRight(b.String(), " ")
}

// statusText is "200 OK", "502 Bad Gateway", "ERR refused", or for a TCP
// connection "closed".
func statusText(r request) string {
	if r.err != nil && (r.status == 0 || r.tcp) {
		return "ERR " + clean(errShort(r.err))
	}
	if r.tcp {
		return "closed"
	}
	if t := http.StatusText(r.status); t != "" {
		return strconv.Itoa(r.status) + " " + t
	}
	return strconv.Itoa(r.status)
}

// fmtMs shows a latency in at most five characters: 0.4ms, 12ms, 1.25s.
func fmtMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	case ms < 1000:
		return strconv.Itoa(int(ms+0.5)) + "ms"
	case ms < 10000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	case ms < 100000:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + "s"
	}
	return strconv.Itoa(int(ms/1000+0.5)) + "s"
}

func fmtRate(r float64) string {
	switch {
	case r < 10:
		return strconv.FormatFloat(r, 'f', 2, 64)
	case r < 100:
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return strconv.FormatFloat(r, 'f', 0, 64)
}

// clean makes a string from the network safe for a terminal: control
// characters (an escape sequence in a request path, say) become '?'.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

// trunc cuts s (plain text) to w cells, ending in an ellipsis if cut.
func trunc(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// maxStatusLines bounds the lines a reconnecting status and its reason
// take.
const maxStatusLines = 3

// wrap breaks s (plain text) into at most n lines of w cells, at spaces
// where it can; the last line ends in an ellipsis if s does not fit.
func wrap(s string, w, n int) []string {
	if w <= 0 {
		return []string{""}
	}
	lines := strings.Split(ansi.Wrap(s, w, ""), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	if len(lines) > n {
		lines = lines[:n]
		lines[n-1] = trunc(lines[n-1]+" …", w)
		if !strings.HasSuffix(lines[n-1], "…") {
			lines[n-1] = trunc(lines[n-1], w-1) + "…"
		}
	}
	return lines
}

// fit is trunc padded with spaces to exactly w cells.
func fit(s string, w int) string {
	s = trunc(s, w)
	if pad := w - ansi.StringWidth(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}
