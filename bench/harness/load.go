// Package harness is wsgrok's load generator and its end-to-end benchmark
// suite: closed- and open-loop HTTP/1.1 and HTTP/2 load, WebSocket round
// trips and downloads against any URL (Run), and the side-by-side
// comparison of a backend reached directly and through a wsgrok edge and
// agent (RunSuite), with latency histograms, process resources and reports
// in text, JSON, Markdown and SVG.
package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one load run against one URL.
type Config struct {
	URL    string
	Method string // default GET, or POST when Body > 0
	Body   int    // request body size in bytes (random, the same every request)

	Conns   int // connections; default 1
	Streams int // concurrent requests per connection (HTTP/2); default 1

	// How long: Duration, or Requests in total (0: no limit); at least one
	// must be set. Warmup runs the same load first and throws it away, so
	// that connections, TLS handshakes and pools are in place.
	Duration time.Duration
	Requests int64
	Warmup   time.Duration

	// Rate > 0 makes the run open-loop: requests are due at fixed times
	// (Rate per second) and latency counts from the time a request was due,
	// not from when a worker got to it, so a stall shows up in every
	// request it delayed (coordinated omission, Gil Tene). Conns×Streams
	// workers carry them out; at most Backlog (default Rate × 1 s, at least
	// 100) due requests wait for a worker, beyond that they are dropped.
	Rate    float64
	Backlog int

	WS      bool // WebSocket round trips on each connection instead of HTTP requests
	MsgSize int  // WebSocket message size; default 1 KiB

	Timeout time.Duration // per request or round trip; default 30 s
	Client  ClientOptions

	Label    string    // names the run in reports and on the progress line
	Progress io.Writer // a progress line once a second; nil for none
	// ProgressLines ends each progress update with a newline instead of
	// rewriting one line with \r (for logs that are not a terminal).
	ProgressLines bool
	// OnMeasure is called when the measured phase starts, after Warmup
	// (the suite samples process CPU there).
	OnMeasure func()
}

// Result is what a run measured. Only successful requests are in Latency
// and Requests; failed ones are counted in Errors.
type Result struct {
	Label        string
	Requests     int64
	Errors       int64
	ErrorSamples []string // the first few distinct error messages
	Bytes        int64    // body bytes sent plus received
	Elapsed      time.Duration
	Dropped      int64 // open loop: due requests with no room in the backlog
	Late         int64 // open loop: requests that started more than lateAfter after they were due
	Latency      *Histogram
}

// lateAfter is how far behind its due time an open-loop request may start
// before it counts as late: above timer and scheduling jitter.
const lateAfter = time.Millisecond

// RPS is successful requests (or round trips) per second.
func (r *Result) RPS() float64 { return perSecond(float64(r.Requests), r.Elapsed) }

// MiBps is body bytes, both directions, per second in MiB.
func (r *Result) MiBps() float64 { return perSecond(float64(r.Bytes)/(1<<20), r.Elapsed) }

func perSecond(v float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return v / d.Seconds()
}

func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, errors.New("no URL")
	}
	if c.Duration <= 0 && c.Requests <= 0 {
		return c, errors.New("give a duration or a number of requests")
	}
	if c.Method == "" {
		c.Method = "GET"
		if c.Body > 0 {
			c.Method = "POST"
		}
	}
	c.Conns = max(c.Conns, 1)
	c.Streams = max(c.Streams, 1)
	if c.Streams > 1 && !c.Client.H2 {
		return c, errors.New("several streams per connection need HTTP/2")
	}
	if c.MsgSize <= 0 {
		c.MsgSize = 1 << 10
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Rate > 0 && c.Backlog <= 0 {
		c.Backlog = max(int(c.Rate), 100)
	}
	return c, nil
}

// op is one request or round trip; it returns the body bytes moved.
type op func(ctx context.Context) (int64, error)

// target builds the ops of a run: one per worker goroutine.
type target interface {
	ops() []op
	close()
}

// Run loads cfg.URL as cfg says. It returns early, with what it measured,
// when ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var t target
	if cfg.WS {
		t, err = newWSTarget(cfg)
	} else {
		t, err = newHTTPTarget(cfg)
	}
	if err != nil {
		return nil, err
	}
	defer t.close()
	ops := t.ops()

	if cfg.Warmup > 0 {
		w := cfg
		w.Duration, w.Requests = cfg.Warmup, 0
		runPhase(ctx, w, ops, new(recorder))
	}
	if cfg.OnMeasure != nil {
		cfg.OnMeasure()
	}
	rec := new(recorder)
	stop := startProgress(cfg, rec)
	elapsed := runPhase(ctx, cfg, ops, rec)
	stop()
	return rec.result(cfg.Label, elapsed), nil
}

// runPhase runs the load of cfg on ops into rec and returns how long it took,
// until the last request in flight ended.
func runPhase(ctx context.Context, cfg Config, ops []op, rec *recorder) time.Duration {
	start := time.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	if cfg.Rate > 0 {
		openLoop(ctx, cfg, ops, rec, start, deadline)
	} else {
		closedLoop(ctx, cfg, ops, rec, deadline)
	}
	return time.Since(start)
}

// closedLoop: each worker sends its next request as soon as the previous
// one ended.
func closedLoop(ctx context.Context, cfg Config, ops []op, rec *recorder, deadline time.Time) {
	var tickets atomic.Int64
	var wg sync.WaitGroup
	for _, o := range ops {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if !deadline.IsZero() && t0.After(deadline) {
					return
				}
				if cfg.Requests > 0 && tickets.Add(1) > cfg.Requests {
					return
				}
				n, err := o(ctx)
				rec.done(ctx, time.Since(t0), n, err)
			}
		})
	}
	wg.Wait()
}

// openLoop schedules request i at start + i/Rate and measures each from
// that time. The scheduler never waits for workers: a due request that
// finds the backlog full is dropped and counted.
func openLoop(ctx context.Context, cfg Config, ops []op, rec *recorder, start, deadline time.Time) {
	due := make(chan time.Time, cfg.Backlog)
	var wg sync.WaitGroup
	for _, o := range ops {
		wg.Go(func() {
			for at := range due {
				if ctx.Err() != nil {
					continue // drain the backlog without sending
				}
				if time.Since(at) > lateAfter {
					rec.late.Add(1)
				}
				n, err := o(ctx)
				rec.done(ctx, time.Since(at), n, err)
			}
		})
	}
	interval := float64(time.Second) / cfg.Rate
	timer := time.NewTimer(0)
	defer timer.Stop()
schedule:
	for i := int64(0); cfg.Requests <= 0 || i < cfg.Requests; i++ {
		at := start.Add(time.Duration(math.Round(float64(i) * interval)))
		if !deadline.IsZero() && at.After(deadline) {
			break
		}
		// Sleep until due; requests already due (the timer fired late, or
		// the rate is above the timer's resolution) go out at once.
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break schedule
			}
		}
		select {
		case due <- at:
		default:
			rec.dropped.Add(1)
		}
	}
	close(due)
	wg.Wait()
}

// recorder collects a phase's outcomes from every worker.
type recorder struct {
	hist    Histogram
	ok      atomic.Int64
	errs    atomic.Int64
	bytes   atomic.Int64
	dropped atomic.Int64
	late    atomic.Int64

	mu      sync.Mutex
	samples []string
}

const maxErrorSamples = 5

func (r *recorder) done(ctx context.Context, lat time.Duration, n int64, err error) {
	r.bytes.Add(n)
	if err == nil {
		r.ok.Add(1)
		r.hist.Record(lat)
		return
	}
	if ctx.Err() != nil {
		return // interrupted, not failed
	}
	r.errs.Add(1)
	msg := err.Error()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) < maxErrorSamples && !contains(r.samples, msg) {
		r.samples = append(r.samples, msg)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (r *recorder) result(label string, elapsed time.Duration) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &Result{
		Label: label, Requests: r.ok.Load(), Errors: r.errs.Load(),
		ErrorSamples: append([]string(nil), r.samples...),
		Bytes:        r.bytes.Load(), Elapsed: elapsed,
		Dropped: r.dropped.Load(), Late: r.late.Load(),
		Latency: r.hist.Snapshot(),
	}
}

// startProgress writes "\r<label> 5s 12345 req 2469/s p99 1.2ms errs 0"
// once a second, the rate and p99 over the last second. The returned
// function stops it and clears the line.
func startProgress(cfg Config, rec *recorder) (stop func()) {
	if cfg.Progress == nil {
		return func() {}
	}
	label := cfg.Label
	if label != "" {
		label += " "
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		prev := new(Histogram)
		width := 0
		for {
			select {
			case <-done:
				if !cfg.ProgressLines && width > 0 {
					fmt.Fprintf(cfg.Progress, "\r%s\r", strings.Repeat(" ", width))
				}
				return
			case <-tick.C:
			}
			cur := rec.hist.Snapshot()
			last := cur.Since(prev)
			prev = cur
			line := fmt.Sprintf("%s%.0fs %d req %d/s p99 %s errs %d", label,
				time.Since(start).Seconds(), rec.ok.Load(), last.Count(),
				FormatDuration(last.Quantile(0.99)), rec.errs.Load())
			if d := rec.dropped.Load(); d > 0 {
				line += fmt.Sprintf(" dropped %d", d)
			}
			if cfg.ProgressLines {
				fmt.Fprintln(cfg.Progress, line)
				continue
			}
			pad := max(width-len(line), 0)
			width = max(width, len(line))
			fmt.Fprintf(cfg.Progress, "\r%s%s", line, strings.Repeat(" ", pad))
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// FormatDuration prints d with three significant digits: 85µs, 1.23ms, 2.5s.
func FormatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return trimFloat(float64(d)/1e3, "µs")
	case d < time.Second:
		return trimFloat(float64(d)/1e6, "ms")
	}
	return trimFloat(d.Seconds(), "s")
}

func trimFloat(v float64, unit string) string {
	prec := 2
	switch {
	case v >= 100:
		prec = 0
	case v >= 10:
		prec = 1
	}
	return fmt.Sprintf("%.*f%s", prec, v, unit)
}

// randomBody returns n random bytes (not compressible, so that no layer's
// compression flatters a result).
func randomBody(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{'w', 's', 'g', 'r', 'o', 'k'})
	r.Read(b)
	return b
}
