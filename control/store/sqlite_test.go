package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPragmas(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	for _, c := range []struct {
		pool   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"write", s.w, "journal_mode", "wal"},
		{"write", s.w, "synchronous", "2"}, // FULL
		{"write", s.w, "foreign_keys", "1"},
		{"write", s.w, "busy_timeout", "5000"},
		{"write", s.w, "query_only", "0"},
		{"read", s.r, "journal_mode", "wal"},
		{"read", s.r, "synchronous", "2"},
		{"read", s.r, "foreign_keys", "1"},
		{"read", s.r, "busy_timeout", "5000"},
		{"read", s.r, "query_only", "1"},
	} {
		var got string
		if err := c.db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("%s pool: %s: %v", c.pool, c.pragma, err)
		}
		if got != c.want {
			t.Errorf("%s pool: %s = %s; want %s", c.pool, c.pragma, got, c.want)
		}
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("write pool of %d connections; want 1", got)
	}
}

func TestReadPoolIsReadOnly(t *testing.T) {
	s, _ := openTest(t)
	_, err := s.r.ExecContext(t.Context(), `INSERT INTO revision (id, value) VALUES (2, 0)`)
	if err == nil {
		t.Fatal("the read pool wrote")
	}
}

func TestFilePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "control")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustAccount(t, s, "a@example.com") // so that the WAL exists
	for path, want := range map[string]os.FileMode{
		dir:                                 0o700 | os.ModeDir,
		filepath.Join(dir, DBFile):          0o600,
		filepath.Join(dir, DBFile) + "-wal": 0o600,
		filepath.Join(dir, DBFile) + "-shm": 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v; want %v", path, fi.Mode(), want)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	for _, dir := range []string{"", filepath.Join(t.TempDir(), "what?")} {
		if s, err := Open(dir); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dir)
		}
	}
}

// TestReopen: what one Store wrote, the next one reads.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := mustAccount(t, s, "a@example.com")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.AccountByID(ctx, a.ID); err != nil || got != a {
		t.Fatalf("after reopening: %+v, %v; want %+v", got, err, a)
	}
}

func TestCanceledContext(t *testing.T) {
	s, _ := openTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.CreateAccount(ctx, Account{Email: "a@example.com"}); err == nil {
		t.Fatal("wrote with a canceled context")
	}
	if err := s.AddUsage(ctx, UsageSample{AccountID: "a", Endpoint: "e", Minute: time.Now()}); err == nil {
		t.Fatal("wrote with a canceled context")
	}
	// The write connection is still usable.
	mustAccount(t, s, "a@example.com")
}
