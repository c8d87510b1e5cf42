//go:build unix

package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperDirEnv tells the test binary, re-executed by TestKill9Durability,
// to act as the process that gets killed, with its store in this directory.
const helperDirEnv = "WSGROK_STORE_HELPER_DIR"

// The helper's objects, which the parent expects after the kill.
const (
	killEmail    = "survivor@example.com"
	killTokenID  = "tok_survivor"
	killName     = "survivor"
	killEndpoint = killName
)

var killMinute = time.Date(2030, 6, 1, 12, 34, 0, 0, time.UTC)

// TestHelperProcess is not a test: run by TestKill9Durability as a child
// process, it writes to the store, says "written" after each write
// returns, and then waits to be killed without ever closing the store.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process for TestKill9Durability")
	}
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	s, err := Open(dir)
	if err != nil {
		fail(err)
	}
	written := func(what string, err error) {
		if err != nil {
			fail(err)
		}
		fmt.Println("written", what) // unbuffered: the parent sees it now
	}

	a, err := s.CreateAccount(ctx, Account{Email: killEmail, Name: "Survivor", PasswordHash: "h"})
	written("account", err)
	_, err = s.CreateAuthtoken(ctx, Authtoken{ID: killTokenID, AccountID: a.ID, Name: "t", Fingerprint: "f"})
	written("token", err)
	_, err = s.ReserveName(ctx, a.ID, killName, time.Hour)
	written("name", err)
	_, err = s.PutPolicy(ctx, a.ID, Policy{Endpoint: killEndpoint, DenyCIDRs: []string{"192.0.2.0/24"}, RateLimit: 42})
	written("policy", err)
	written("usage", s.AddUsage(ctx, UsageSample{AccountID: a.ID, Endpoint: killEndpoint, Minute: killMinute,
		Requests: 7, BytesIn: 70, Status2xx: 7, LatencyBuckets: buckets(4, 7)}))
	written("revocation", s.RevokeAuthtoken(ctx, a.ID, killTokenID))

	// Block until killed, or until the parent goes away (its end of stdin
	// closes) so that a failed parent leaves no process behind.
	io.Copy(io.Discard, os.Stdin)
	os.Exit(3)
}

// TestKill9Durability kills, with SIGKILL, a process that has written to
// the store and not closed it, then reopens the store: everything whose
// write had returned is there.
func TestKill9Durability(t *testing.T) {
	if os.Getenv(helperDirEnv) != "" {
		t.Skip("in the helper process")
	}
	dir := t.TempDir()
	ctx := t.Context()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	want := []string{"account", "token", "name", "policy", "usage", "revocation"}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(time.Minute)
	for i := 0; i < len(want); {
		select {
		case line, ok := <-lines:
			if !ok {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper exited after %d writes", i)
			}
			t.Log("helper:", line)
			if rest, found := strings.CutPrefix(line, "written "); found {
				if rest != want[i] {
					t.Fatalf("helper wrote %q; want %q", rest, want[i])
				}
				i++
			} else if strings.HasPrefix(line, "error:") {
				t.Fatalf("helper: %s", line)
			}
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("helper too slow")
		}
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v; want killed by SIGKILL", err)
	}
	// The writes are in the WAL, not yet in the database file: reopening
	// must recover them from it.
	if fi, err := os.Stat(filepath.Join(dir, DBFile) + "-wal"); err != nil || fi.Size() == 0 {
		t.Logf("no WAL left behind (%v): recovery not exercised", err)
	}

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	a, err := s.AccountByEmail(ctx, killEmail)
	if err != nil {
		t.Fatalf("account: %v", err)
	}
	tok, err := s.AuthtokenByID(ctx, killTokenID)
	if err != nil || tok.AccountID != a.ID || tok.Revoked == nil {
		t.Fatalf("token: %+v, %v", tok, err)
	}
	if revs := must[[]Revocation](t)(s.RevokedTokenIDs(ctx, 0)); len(revs) != 1 || revs[0].TokenID != killTokenID {
		t.Fatalf("revocations: %+v", revs)
	}
	if rn, err := s.NameOwner(ctx, killName); err != nil || rn.AccountID != a.ID || rn.Released != nil {
		t.Fatalf("name: %+v, %v", rn, err)
	}
	p, err := s.Policy(ctx, a.ID, killEndpoint)
	if err != nil || p.RateLimit != 42 || len(p.DenyCIDRs) != 1 || p.DenyCIDRs[0] != "192.0.2.0/24" {
		t.Fatalf("policy: %+v, %v", p, err)
	}
	u := must[[]UsageSample](t)(s.Usage(ctx, a.ID, killEndpoint, killMinute, killMinute.Add(time.Minute)))
	if len(u) != 1 || u[0].Requests != 7 || u[0].BytesIn != 70 || u[0].LatencyBuckets[4] != 7 {
		t.Fatalf("usage: %+v", u)
	}
	// And the store goes on working.
	mustAccount(t, s, "after@example.com")
}
