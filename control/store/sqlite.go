package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DBFile is the name of the database in the data directory. SQLite keeps
// DBFile-wal and DBFile-shm beside it; a backup must copy all three, or use
// SQLite's backup API.
const DBFile = "wsgrok.db"

// SQLite is the [Store] over an embedded SQLite database.
//
// SQLite allows one writer at a time, whatever the number of connections,
// so writes go through a pool of exactly one connection (w) and wait for it
// in Go, where they honour their context, instead of contending for the
// file lock inside SQLite: with several writing connections, a transaction
// that reads and then writes can fail with SQLITE_BUSY when another commits
// first, which busy_timeout cannot cure. Reads go through a separate pool
// of read-only connections (r) that, in WAL mode, run in parallel with each
// other and with the writer, each seeing the last commit before it began.
//
// One writer also makes the revision sequence commit-ordered: a reader that
// has seen revision n will never later see a commit with a revision below
// n, which is what lets edges poll with a single cursor.
type SQLite struct {
	w, r *sql.DB
	now  func() time.Time // the clock; tests replace it
}

var _ Store = (*SQLite)(nil)

// pragmas apply to every connection. WAL lets readers run beside the
// writer; synchronous=FULL syncs the WAL on every commit, so a committed
// transaction survives a power loss, not only a killed process (NORMAL
// would be enough for kill -9 only). busy_timeout covers other processes
// (a backup, a second control instance by mistake) holding the lock.
const pragmas = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"

// Open opens, creating it if needed, the store in the data directory dir
// and applies any pending migrations.
func Open(dir string) (*SQLite, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: no data directory", ErrInvalid)
	}
	// The driver splits its DSN at the first '?'.
	if strings.ContainsRune(dir, '?') {
		return nil, fmt.Errorf("%w: data directory %q contains '?'", ErrInvalid, dir)
	}
	// The database holds signing keys: owner only. SQLite gives the -wal
	// and -shm files the mode of the database file.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wsgrok: store: data directory: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("wsgrok: store: %w", err)
	}
	f.Close()

	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("wsgrok: store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Migrating first also puts the file in WAL mode (persistent) before
	// any reader opens it.
	if err := migrate(context.Background(), w, migrations); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("wsgrok: store: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.Ping(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("wsgrok: store: open %s: %w", path, err)
	}
	return &SQLite{w: w, r: r, now: time.Now}, nil
}

// dsn is the driver's name for the database at path, for the write pool or
// the read pool.
func dsn(path string, write bool) string {
	if write {
		// _txlock=immediate: every transaction takes the write lock at
		// BEGIN, where busy_timeout can wait for it, rather than at its
		// first write, where a conflict is an immediate SQLITE_BUSY.
		return path + "?" + pragmas + "&_pragma=journal_mode(WAL)&_txlock=immediate"
	}
	// query_only: a write sent to the read pool by mistake fails loudly
	// instead of racing the writer.
	return path + "?" + pragmas + "&_pragma=query_only(1)"
}

// Close closes both pools.
func (s *SQLite) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// write runs fn in a write transaction and commits it if fn returns nil.
func (s *SQLite) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("wsgrok: store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("wsgrok: store: commit: %w", err)
	}
	return nil
}

// nextRevision takes the next value of the store-wide revision sequence,
// in the caller's transaction. Taking it is a write to one row, which holds
// that row until commit, so revisions become visible in increasing order:
// the property edges' cursors rely on. (The same statement keeps that
// property on PostgreSQL, where a SEQUENCE would not: its values are handed
// out before, and committed in any order.)
func nextRevision(ctx context.Context, tx *sql.Tx) (int64, error) {
	var rev int64
	err := tx.QueryRowContext(ctx, `UPDATE revision SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&rev)
	if err != nil {
		return 0, fmt.Errorf("wsgrok: store: revision: %w", err)
	}
	return rev, nil
}

// dbErr turns a database error into the store's: no rows is ErrNotFound,
// a uniqueness violation ErrDuplicate; what names the operation and object.
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", ErrDuplicate, what)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %s: unknown account", ErrNotFound, what)
		}
	}
	return fmt.Errorf("wsgrok: store: %s: %w", what, err)
}

// affected returns ErrNotFound if res changed no row.
func affected(what string, res sql.Result, err error) error {
	if err != nil {
		return dbErr(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbErr(what, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return nil
}

// newID returns 16 random hex digits: 64 bits, enough that ids of one
// installation never collide (and a collision would be ErrDuplicate, not
// an overwrite).
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Times are stored as INTEGER Unix nanoseconds (UTC by definition): they
// sort and compare in SQL, and round-trip exactly.

func toDB(t time.Time) int64 { return t.UnixNano() }

func fromDB(n int64) time.Time { return time.Unix(0, n).UTC() }

func toDBPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromDBPtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromDB(n.Int64)
	return &t
}

// nowUTC is the store's clock without its monotonic reading, so that
// returned values equal what a later read returns.
func (s *SQLite) nowUTC() time.Time { return fromDB(toDB(s.now())) }

// orNow returns t, or now if t is zero, as stored.
func (s *SQLite) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.nowUTC()
	}
	return fromDB(toDB(t))
}

// normName is the stored form of names, endpoints and emails: DNS names
// and email addresses are compared case-insensitively.
func normName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
