// Package tui is the agent's live terminal screen, in the manner of
// ngrok's: session status, account, edge and its RTT, forwarding lines,
// connection counters, latency percentiles and the latest requests.
//
// A Screen is the agent's Events: the agent's goroutines write what
// happens into a board (a mutex and a few rings, never blocking on the
// terminal), and the screen's bubbletea program takes a snapshot of it to
// draw each frame. The model's View is a function of its state alone, so
// tests feed it messages and read the text.
package tui

import (
	"context"
	"io"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/wsgrok/wsgrok/agent"
)

// Options configure a Screen. Every field may be left zero.
type Options struct {
	// Version is shown in the title and the Version row; "" hides both.
	Version string
	// Edge is the edge's address, host:port, as given to the agent.
	Edge string
	// Inspector is the request inspector's URL (http://127.0.0.1:4040);
	// "" hides the "Web Interface" row.
	Inspector string
	// Sessions reports the live sessions to the edge. It is called about
	// once a second, off the screen's event loop; nil shows no account,
	// RTT or open connections.
	Sessions func() []SessionInfo
	// Label names a tunnel on its forwarding lines (the name it has in
	// the config file); nil, or "", shows none.
	Label func(*agent.Tunnel) string
	// Input is where keys come from; default os.Stdin (or the controlling
	// terminal when stdin is not one).
	Input io.Reader
	// Output is the terminal; default os.Stdout. Colours follow what it
	// supports, and NO_COLOR turns them off.
	Output io.Writer
	// Now is the clock; default time.Now. For tests.
	Now func() time.Time
}

// SessionInfo is what the screen shows of one session to the edge.
type SessionInfo struct {
	Account string        // the account the edge says the authtoken belongs to
	RTT     time.Duration // last heartbeat round trip; 0 until measured
	Streams int           // streams open: the "opn" counter
}

// Screen shows what the agent reports. Its Events methods may be called
// from any goroutine, before, during or after Run, and never block on the
// terminal.
type Screen struct {
	opts  Options
	board *board
	dirty chan struct{} // capacity 1: "the board changed", coalesced
}

var _ agent.Events = (*Screen)(nil)

// New returns a screen that is not drawn until Run.
func New(opts Options) *Screen {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Output == nil {
		opts.Output = os.Stdout
	}
	return &Screen{
		opts:  opts,
		board: newBoard(opts.Now(), opts.Label),
		dirty: make(chan struct{}, 1),
	}
}

// Forwarding implements agent.Events.
func (s *Screen) Forwarding(t *agent.Tunnel, urls []string) {
	s.board.forwarding(t, urls)
	s.poke()
}

// Status implements agent.Events.
func (s *Screen) Status(state string, err error) {
	s.board.setStatus(state, err)
	s.poke()
}

// Request implements agent.Events.
func (s *Screen) Request(r agent.RequestEvent) {
	s.board.request(s.opts.Now(), r)
	s.poke()
}

func (s *Screen) poke() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// minFrame spaces redraws caused by events: under load the screen shows
// 20 frames a second, not one per request.
const minFrame = 50 * time.Millisecond

// Run draws the screen on the alternate screen of Options.Output until
// the user presses Ctrl-C or q (nil), or ctx ends (nil). The terminal is
// restored before it returns. Run may be called once.
func (s *Screen) Run(ctx context.Context) error {
	r := lipgloss.NewRenderer(s.opts.Output)
	m := newModel(s.opts, s.board, newStyles(r), s.opts.Now)
	popts := []tea.ProgramOption{
		tea.WithOutput(s.opts.Output),
		tea.WithAltScreen(),
		// The command's context carries SIGINT and SIGTERM; in raw mode
		// Ctrl-C arrives as a key.
		tea.WithoutSignalHandler(),
	}
	if s.opts.Input != nil {
		popts = append(popts, tea.WithInput(s.opts.Input))
	}
	p := tea.NewProgram(m, popts...)

	done := make(chan struct{})
	defer close(done)
	go s.feed(ctx, p, done)
	_, err := p.Run()
	return err
}

// feed is the screen's link from the board to the program: a redraw when
// the board changed (at most one per minFrame), and quitting when ctx
// ends.
func (s *Screen) feed(ctx context.Context, p *tea.Program, done <-chan struct{}) {
	for {
		select {
		case <-s.dirty:
			p.Send(refreshMsg{})
		case <-ctx.Done():
			p.Quit()
			return
		case <-done:
			return
		}
		select {
		case <-time.After(minFrame):
		case <-ctx.Done():
			p.Quit()
			return
		case <-done:
			return
		}
	}
}
