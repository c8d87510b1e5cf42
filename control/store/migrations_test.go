package store

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// rawDB opens the database in dir as the store's writer does, without
// migrating it.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, DBFile), true))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// versions returns the rows of schema_version.
func versions(t *testing.T, db *sql.DB) [][2]int64 {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT version, applied FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	return must[[][2]int64](t)(collect(rows, "versions", func(r scanner) (v [2]int64, err error) {
		return v, r.Scan(&v[0], &v[1])
	}))
}

func TestMigrationsFreshAndReopen(t *testing.T) {
	if len(migrations) < 2 {
		t.Fatal("the upgrade test below needs at least two migrations")
	}
	s, dir := openTest(t)
	got := versions(t, s.w)
	if len(got) != len(migrations) {
		t.Fatalf("schema_version %v; want versions 1 to %d", got, len(migrations))
	}
	for i, v := range got {
		if v[0] != int64(i+1) || v[1] == 0 {
			t.Fatalf("schema_version %v", got)
		}
	}

	// Reopening applies nothing: the rows, with their times, are unchanged.
	for range 2 {
		s2, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		again := versions(t, s2.w)
		s2.Close()
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("after reopening: %v; want %v", again, got)
		}
	}
}

// TestMigrateFromPreviousVersion opens a database left at the previous
// schema version, with data in it, as an upgrade does.
func TestMigrateFromPreviousVersion(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db := rawDB(t, dir)
	n := len(migrations)
	if err := migrate(ctx, db, migrations[:n-1]); err != nil {
		t.Fatal(err)
	}
	if v, err := schemaVersion(ctx, db); err != nil || v != n-1 {
		t.Fatalf("version %d, %v; want %d", v, err, n-1)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO accounts (id, email, name, password_hash, totp_secret, created)
		VALUES ('0011223344556677', 'old@example.com', 'Old', 'h', '', ?)`, toDB(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	// The last migration (revisions on reservations) is not there yet.
	if _, err := db.ExecContext(ctx, `SELECT revision FROM reserved_names`); err == nil {
		t.Fatal("reserved_names.revision exists at the previous version")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO reserved_names (name, account_id, created) VALUES ('kept', '0011223344556677', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := schemaVersion(ctx, s.r); err != nil || v != n {
		t.Fatalf("version %d, %v after Open; want %d", v, err, n)
	}
	a, err := s.AccountByEmail(ctx, "old@example.com")
	if err != nil || a.ID != "0011223344556677" {
		t.Fatalf("account from before the upgrade: %+v, %v", a, err)
	}
	if err := s.AddUsage(ctx, UsageSample{AccountID: a.ID, Endpoint: "e", Minute: time.Now(), Requests: 1}); err != nil {
		t.Fatal(err)
	}
	// A reservation from before the upgrade is synced to edges from scratch.
	if ns, err := s.NamesSince(ctx, 0); err != nil || len(ns) != 1 || ns[0].Name != "kept" {
		t.Fatalf("names after the upgrade: %+v, %v", ns, err)
	}
}

// TestMigrationIsAtomic: a migration that fails halfway leaves nothing of
// itself behind, and the version where it was.
func TestMigrationIsAtomic(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db := rawDB(t, dir)
	bad := append(migrations[:len(migrations):len(migrations)],
		`CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);`)
	err := migrate(ctx, db, bad)
	if want := fmt.Sprintf("migration %d:", len(bad)); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("migrate = %v; want %q", err, want)
	}
	if v, _ := schemaVersion(ctx, db); v != len(migrations) {
		t.Fatalf("version %d; want %d", v, len(migrations))
	}
	if _, err := db.ExecContext(ctx, `SELECT 1 FROM half`); err == nil {
		t.Fatal("the failed migration's table exists")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, dir := openTest(t)
	_, err := s.w.ExecContext(t.Context(), `INSERT INTO schema_version (version, applied) VALUES (?, 0)`, len(migrations)+1)
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(dir); err == nil {
		s2.Close()
		t.Fatal("opened a database from a newer version")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("error %v", err)
	}
}
