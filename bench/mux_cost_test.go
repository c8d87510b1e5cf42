package bench

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The machine these benchmarks run on is shared, so wall time alone says
// little about a change: cost reports what the process spent per op as
// well, from getrusage(2) and /proc/self/io. On loopback the write(2)
// figure is also the TLS record count (one record per write for a plain
// tls.Conn), and voluntary context switches count goroutine hand-offs
// that put a thread to sleep.

// costMeter snapshots the process's counters at start.
type costMeter struct {
	ru     syscall.Rusage
	sr, sw int64
	ok     bool
}

func startCost() costMeter {
	var m costMeter
	if syscall.Getrusage(syscall.RUSAGE_SELF, &m.ru) != nil {
		return m
	}
	m.sr, m.sw, m.ok = procIO()
	return m
}

// report adds cpu-us/op, reads/op, writes/op and vcsw/op to b's results.
func (m costMeter) report(b *testing.B) {
	if !m.ok || b.N == 0 {
		return
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return
	}
	sr, sw, ok := procIO()
	if !ok {
		return
	}
	tv := func(t syscall.Timeval) time.Duration {
		return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
	}
	cpu := tv(ru.Utime) + tv(ru.Stime) - tv(m.ru.Utime) - tv(m.ru.Stime)
	n := float64(b.N)
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-us/op")
	b.ReportMetric(float64(sr-m.sr)/n, "reads/op")
	b.ReportMetric(float64(sw-m.sw)/n, "writes/op")
	b.ReportMetric(float64(ru.Nvcsw-m.ru.Nvcsw)/n, "vcsw/op")
}

// procIO returns the process's read and write syscall counts (Linux).
func procIO() (syscr, syscw int64, ok bool) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		k, v, found := bytes.Cut(line, []byte(": "))
		if !found {
			continue
		}
		x, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			continue
		}
		switch string(k) {
		case "syscr":
			syscr = x
		case "syscw":
			syscw = x
		}
	}
	return syscr, syscw, true
}
