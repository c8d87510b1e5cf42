package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema, one version per entry: migrations[i] takes the
// database from version i to i+1. They are applied in order, each in its
// own transaction together with its row in schema_version, so a crash
// leaves the database at one version or the next, never between.
//
// Never edit an entry once released: append a new one. A migration that
// rebuilds a table must account for foreign_keys being on (it cannot be
// turned off inside a transaction).
//
// Times are INTEGER Unix nanoseconds; nullable times are NULL when unset.
// Tables are STRICT so that a wrongly typed value fails instead of being
// stored as something else.
var migrations = []string{
	// 1: accounts, credentials, names and policies.
	`
CREATE TABLE accounts (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	totp_secret   TEXT NOT NULL,
	created       INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	csrf       TEXT NOT NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires);

-- The single sequence behind every revision column: one counter for all
-- kinds of change, so revisions of different tables never repeat.
CREATE TABLE revision (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
) STRICT;
INSERT INTO revision (id, value) VALUES (1, 0);

-- revision is set when the token is revoked, for edges' sync.
CREATE TABLE authtokens (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	name        TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	created     INTEGER NOT NULL,
	expires     INTEGER,
	last_used   INTEGER,
	revoked     INTEGER,
	revision    INTEGER
) STRICT;
CREATE INDEX authtokens_account ON authtokens (account_id);
CREATE INDEX authtokens_revision ON authtokens (revision);

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	name       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created    INTEGER NOT NULL,
	revoked    INTEGER
) STRICT;
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE signing_keys (
	id      TEXT PRIMARY KEY,
	private BLOB NOT NULL,
	created INTEGER NOT NULL,
	retired INTEGER
) STRICT;

-- A released name keeps its row (and last owner) for the quarantine.
CREATE TABLE reserved_names (
	name       TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	created    INTEGER NOT NULL,
	released   INTEGER
) STRICT;
CREATE INDEX reserved_names_account ON reserved_names (account_id);

-- Lists are JSON arrays: a policy is always read and written whole. A
-- deleted policy stays as a tombstone (deleted = 1) so that edges syncing
-- by revision learn of the deletion.
CREATE TABLE policies (
	endpoint    TEXT PRIMARY KEY REFERENCES reserved_names (name),
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	allow_cidrs TEXT NOT NULL,
	deny_cidrs  TEXT NOT NULL,
	block_paths TEXT NOT NULL,
	basic_auth  TEXT NOT NULL,
	rate_limit  INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	revision    INTEGER NOT NULL,
	deleted     INTEGER NOT NULL
) STRICT;
CREATE INDEX policies_account ON policies (account_id);
CREATE INDEX policies_revision ON policies (revision);
`,

	// 2: usage analytics. No foreign key to accounts: rows arrive in
	// batches from edges, and one stale account must not fail the batch.
	// The columns after minute are the counters, in the order of
	// usageCounters.
	`
CREATE TABLE usage (
	account_id TEXT NOT NULL,
	endpoint   TEXT NOT NULL,
	minute     INTEGER NOT NULL,
	requests   INTEGER NOT NULL,
	bytes_in   INTEGER NOT NULL,
	bytes_out  INTEGER NOT NULL,
	status_1xx INTEGER NOT NULL,
	status_2xx INTEGER NOT NULL,
	status_3xx INTEGER NOT NULL,
	status_4xx INTEGER NOT NULL,
	status_5xx INTEGER NOT NULL,
	blocked    INTEGER NOT NULL,
	lat_00     INTEGER NOT NULL,
	lat_01     INTEGER NOT NULL,
	lat_02     INTEGER NOT NULL,
	lat_03     INTEGER NOT NULL,
	lat_04     INTEGER NOT NULL,
	lat_05     INTEGER NOT NULL,
	lat_06     INTEGER NOT NULL,
	lat_07     INTEGER NOT NULL,
	lat_08     INTEGER NOT NULL,
	lat_09     INTEGER NOT NULL,
	lat_10     INTEGER NOT NULL,
	lat_11     INTEGER NOT NULL,
	lat_12     INTEGER NOT NULL,
	lat_13     INTEGER NOT NULL,
	PRIMARY KEY (account_id, endpoint, minute)
) STRICT, WITHOUT ROWID;
-- For an account's total over all endpoints, and for pruning.
CREATE INDEX usage_account_minute ON usage (account_id, minute);
CREATE INDEX usage_minute ON usage (minute);
`,
	// v3: reservations carry a revision, so that edges sync them with the
	// same cursor as revocations and policies.
	`
ALTER TABLE reserved_names ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE INDEX reserved_names_revision ON reserved_names (revision);
`,
}

// migrate brings db up to len(migs). The version is read inside each
// migration's write transaction, so two processes opening a new database
// at once apply each migration once.
func migrate(ctx context.Context, db *sql.DB, migs []string) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY,
		applied INTEGER NOT NULL
	) STRICT`)
	if err != nil {
		return fmt.Errorf("wsgrok: store: migrate: %w", err)
	}
	for {
		done, err := migrateOne(ctx, db, migs)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateOne applies the next pending migration, if any.
func migrateOne(ctx context.Context, db *sql.DB, migs []string) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("wsgrok: store: migrate: %w", err)
	}
	defer tx.Rollback()
	v, err := schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	switch {
	case v > len(migs):
		return false, fmt.Errorf("wsgrok: store: database schema is version %d, newer than this program's %d: run a newer wsgrok", v, len(migs))
	case v == len(migs):
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migs[v]); err != nil {
		return false, fmt.Errorf("wsgrok: store: migration %d: %w", v+1, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied) VALUES (?, ?)`, v+1, toDB(time.Now()))
	if err != nil {
		return false, fmt.Errorf("wsgrok: store: migration %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("wsgrok: store: migration %d: %w", v+1, err)
	}
	return false, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaVersion is the last migration applied; 0 for a new database.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("wsgrok: store: schema version: %w", err)
	}
	return v, nil
}
