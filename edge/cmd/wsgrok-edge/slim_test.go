//go:build !nocontrol

package main

import (
	"bufio"
	"debug/buildinfo"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoControlBuild builds wsgrok-edge with -tags nocontrol, the edge for
// operators who run wsgrok-control on its own: SQLite and the control
// service are not linked, the edge starts without them and still prints a
// development authtoken, and asking it for the embedded service says what
// to do instead.
func TestNoControlBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "wsgrok-edge")
	build := exec.Command("go", "build", "-tags", "nocontrol", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nocontrol: %v\n%s", err, out)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range info.Deps {
		if strings.HasPrefix(d.Path, "modernc.org/") {
			t.Errorf("the nocontrol build links %s", d.Path)
		}
	}

	args := []string{"--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0",
		"--agent-addr", "127.0.0.1:0", "--admin-addr", "off", "--tcp-port-min", "-1", "--log-level", "error"}
	out, err := exec.Command(bin, append(args, "--control-addr", "127.0.0.1:0")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "built without the embedded control service") ||
		!strings.Contains(string(out), "--control-url") {
		t.Fatalf("--control-addr on the nocontrol build: %v, %q", err, out)
	}

	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	lines, quit := make(chan string), make(chan struct{})
	defer close(quit)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(stdout); sc.Scan(); {
			select {
			case lines <- sc.Text():
			case <-quit:
				return
			}
		}
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the nocontrol edge exited before printing an authtoken")
			}
			if strings.Contains(l, "dashboard") {
				t.Fatalf("the nocontrol edge printed a dashboard: %q", l)
			}
			if m := agentLine.FindStringSubmatch(l); m != nil && m[3] != "" {
				return
			}
		case <-timeout:
			t.Fatal("the nocontrol edge printed no authtoken within 30 s")
		}
	}
}
