package main

import (
	"context"
	"io"
	"os"
	"sync/atomic"

	"github.com/charmbracelet/x/term"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/agent/tui"
)

// useScreen reports whether serve draws the live status screen rather
// than printing lines: only when stdout is a terminal and the log (--log)
// is not written to that terminal too. A log file leaves the screen on.
func useScreen(logDest string, stdout, stderr io.Writer) bool {
	if !isTerminal(stdout) {
		return false
	}
	switch logDest {
	case "stdout":
		return false
	case "stderr":
		return !isTerminal(stderr)
	}
	return true
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// screen is serve's live status screen (package agent/tui) and the agent
// it shows.
type screen struct {
	ui    *tui.Screen
	agent atomic.Pointer[agent.Agent] // nil until run
}

// newScreen prepares the screen for tunnels on stdout. inspector is the
// request inspector's URL, "" for none. The screen's ui is the agent's
// Events.
func newScreen(c *common, tunnels []namedTunnel, stdout io.Writer, inspector string) *screen {
	s := &screen{}
	names := &printer{tunnels: tunnels}
	s.ui = tui.New(tui.Options{
		Version:   agent.Version,
		Edge:      c.edge,
		Inspector: inspector,
		Sessions:  s.sessions,
		Label:     names.name,
		Output:    stdout,
	})
	return s
}

func (s *screen) sessions() []tui.SessionInfo {
	a := s.agent.Load()
	if a == nil {
		return nil
	}
	ss := a.Sessions()
	out := make([]tui.SessionInfo, len(ss))
	for i, x := range ss {
		out[i] = tui.SessionInfo{Account: x.PeerMeta().Get("account"), RTT: x.RTT(), Streams: x.NumStreams()}
	}
	return out
}

// run serves a under the screen until the user quits (Ctrl-C, q), ctx
// ends, or the agent stops for good; the agent's error wins, and is
// printed by the caller once the terminal is restored.
func (s *screen) run(ctx context.Context, a *agent.Agent) error {
	s.agent.Store(a)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- a.Run(ctx)
		cancel() // a fatal refusal ends the screen too
	}()
	uerr := s.ui.Run(ctx)
	cancel()
	if err := <-errc; err != nil {
		return err
	}
	return uerr
}
