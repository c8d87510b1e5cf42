package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildBinaries builds what the suite runs into a temporary directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the edge, the agent and the backend")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/wsgrok/wsgrok/agent/cmd/wsgrok",
		"github.com/wsgrok/wsgrok/edge/cmd/wsgrok-edge",
		"github.com/wsgrok/wsgrok/bench/cmd/wsgrok-backend",
		"github.com/wsgrok/wsgrok/bench/cmd/wsgrok-bench")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// children lists the processes this test process has started and not
// reaped, from /proc/self/task/*/children.
func children(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pids = append(pids, strings.Fields(string(b))...)
	}
	return pids
}

// TestSuiteSmoke runs a tiny suite against real binaries: every kind of
// scenario, both memory scenarios, the report files, and no child left.
func TestSuiteSmoke(t *testing.T) {
	bin := buildBinaries(t)
	out := t.TempDir()
	var log strings.Builder
	cfg := SuiteConfig{
		Bin: bin, Out: out, Rounds: 1, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond,
		Downloads: 1, IdleConns: 100, Agents: 10, Name: "smoke", Log: &log,
		Only: []string{"small-c1", "small-c64", "post", "h2", "ws", idleConnsName, agentSessionsName},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := RunSuite(ctx, cfg)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log.String())
	}
	if c := children(t); len(c) > 0 {
		t.Errorf("child processes left running: %v", c)
	}
	var names []string
	for _, sc := range r.Scenarios {
		names = append(names, sc.Name)
		for _, c := range sc.Contenders {
			if c.Requests == 0 || c.Errors != 0 || c.P50Ms <= 0 || len(c.Curve) == 0 {
				t.Errorf("%s %s: %d requests, %d errors, p50 %v ms, %d curve points", sc.Name, c.Name, c.Requests, c.Errors, c.P50Ms, len(c.Curve))
			}
			if c.Name != direct && (c.Ratio <= 0 || c.CPU == nil) {
				t.Errorf("%s %s: ratio %v, cpu %v", sc.Name, c.Name, c.Ratio, c.CPU)
			}
		}
	}
	for _, sc := range r.Scenarios {
		if sc.contender(relay) == nil {
			t.Errorf("%s: no relay contender", sc.Name)
		}
	}
	for _, g := range r.Goals {
		if strings.Contains(g.Subject, relay) {
			t.Errorf("the relay, a floor, has a goal: %+v", g)
		}
	}
	if got := strings.Join(names, ","); got != "small-c1,small-c64,post-1mib-c8,h2-16x16,ws-1kib-c16" {
		t.Errorf("scenarios %s", got)
	}
	res := r.Resources
	if res.Edge.IdleRSSMB <= 0 || res.Edge.PeakRSSMB < res.Edge.IdleRSSMB || res.Agent.IdleRSSMB <= 0 {
		t.Errorf("resources %+v", res)
	}
	if m := res.IdleConns; m == nil || m.Opened != 100 || m.EdgeCount != 100 || m.Error != "" {
		t.Errorf("idle conns %+v", m)
	}
	if m := res.AgentSessions; m == nil || m.Opened != 10 || m.EdgeCount != 10 || m.Error != "" {
		t.Errorf("agent sessions %+v", m)
	}
	// A run disturbed by other processes (go test runs packages in
	// parallel) says so in its report; that is the machine, not a defect.
	for _, a := range r.Anomalies {
		if !strings.Contains(a, ": disturbed: ") {
			t.Errorf("anomaly: %q", a)
		}
	}
	if len(r.Goals) < 8 {
		t.Errorf("%d goals checked", len(r.Goals))
	}
	for _, f := range []string{"latest.json", "latest.md", "latest.svg"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var text strings.Builder
	r.WriteText(&text)
	if !strings.Contains(text.String(), "small-c64") || !strings.Contains(text.String(), "goals met") {
		t.Errorf("text report:\n%s", text.String())
	}

	// Cancelled in the middle of a run: it returns soon, and stops its children.
	ctx, cancel = context.WithCancel(context.Background())
	cfg.Out, cfg.Only, cfg.Duration, cfg.Log = "", []string{"small-c64"}, time.Minute, nil
	time.AfterFunc(3*time.Second, cancel)
	began := time.Now()
	if _, err := RunSuite(ctx, cfg); err == nil {
		t.Error("cancelled suite returned no error")
	}
	if d := time.Since(began); d > 15*time.Second {
		t.Errorf("cancelled suite took %v to return", d)
	}
	if c := children(t); len(c) > 0 {
		t.Errorf("child processes left running after cancel: %v", c)
	}
}
