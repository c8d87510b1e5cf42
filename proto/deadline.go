package proto

import (
	"sync"
	"time"
)

// deadline is a settable point in time whose channel closes when it
// passes, as net.Pipe's pipeDeadline does. Nothing is armed until someone
// waits: the agent sets a read deadline around every request's headers,
// which are nearly always there already, and a timer and a channel for
// each of those were 4% of its CPU at c=64 (issue 4).
type deadline struct {
	mu     sync.Mutex
	at     time.Time     // zero: none
	timer  *time.Timer   // closes cancel at at; armed by wait
	cancel chan struct{} // made by the first wait; closed when at passes
}

// set moves the deadline to t; the zero time removes it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired and closed cancel
	}
	d.timer = nil
	d.at = t
	if d.cancel != nil && isClosed(d.cancel) {
		d.cancel = nil // the next wait makes a fresh one
	}
	if d.cancel != nil && !t.IsZero() {
		d.arm() // someone may be waiting on cancel now
	}
}

// wait returns a channel that closes when the deadline passes.
func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		d.cancel = make(chan struct{})
		if !d.at.IsZero() {
			d.arm()
		}
	}
	return d.cancel
}

// arm closes cancel at d.at, or now if that has passed. d.mu is held.
func (d *deadline) arm() {
	dur := time.Until(d.at)
	if dur <= 0 {
		close(d.cancel)
		return
	}
	ch := d.cancel
	d.timer = time.AfterFunc(dur, func() { close(ch) })
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
