package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CreateAuthtoken implements [Store]. LastUsed and Revoked of t are
// ignored: a new token is unused and valid.
func (s *SQLite) CreateAuthtoken(ctx context.Context, t Authtoken) (Authtoken, error) {
	if t.AccountID == "" {
		return Authtoken{}, fmt.Errorf("%w: authtoken without an account", ErrInvalid)
	}
	if t.ID == "" {
		t.ID = newID()
	}
	t.Created = s.orNow(t.Created)
	if t.Expires != nil {
		e := fromDB(toDB(*t.Expires))
		t.Expires = &e
	}
	t.LastUsed, t.Revoked = nil, nil
	_, err := s.w.ExecContext(ctx, `INSERT INTO authtokens (id, account_id, name, fingerprint, created, expires)
		VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.AccountID, t.Name, t.Fingerprint, toDB(t.Created), toDBPtr(t.Expires))
	if err != nil {
		return Authtoken{}, dbErr("authtoken "+t.ID, err)
	}
	return t, nil
}

const authtokenCols = `id, account_id, name, fingerprint, created, expires, last_used, revoked`

type scanner interface{ Scan(dest ...any) error }

func scanAuthtoken(row scanner) (Authtoken, error) {
	var t Authtoken
	var created int64
	var expires, lastUsed, revoked sql.NullInt64
	err := row.Scan(&t.ID, &t.AccountID, &t.Name, &t.Fingerprint, &created, &expires, &lastUsed, &revoked)
	t.Created = fromDB(created)
	t.Expires, t.LastUsed, t.Revoked = fromDBPtr(expires), fromDBPtr(lastUsed), fromDBPtr(revoked)
	return t, err
}

// AuthtokenByID implements [Store].
func (s *SQLite) AuthtokenByID(ctx context.Context, id string) (Authtoken, error) {
	t, err := scanAuthtoken(s.r.QueryRowContext(ctx, `SELECT `+authtokenCols+` FROM authtokens WHERE id = ?`, id))
	if err != nil {
		return Authtoken{}, dbErr("authtoken "+id, err)
	}
	return t, nil
}

// ListAuthtokens implements [Store].
func (s *SQLite) ListAuthtokens(ctx context.Context, accountID string) ([]Authtoken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+authtokenCols+` FROM authtokens
		WHERE account_id = ? ORDER BY created, id`, accountID)
	if err != nil {
		return nil, dbErr("authtokens of "+accountID, err)
	}
	return collect(rows, "authtokens of "+accountID, scanAuthtoken)
}

// MarkAuthtokenUsed implements [Store].
func (s *SQLite) MarkAuthtokenUsed(ctx context.Context, id string, at time.Time) error {
	// MAX keeps the later of the stored and reported times.
	res, err := s.w.ExecContext(ctx, `UPDATE authtokens SET last_used = MAX(COALESCE(last_used, ?), ?) WHERE id = ?`,
		toDB(at), toDB(at), id)
	return affected("authtoken "+id, res, err)
}

// RevokeAuthtoken implements [Store].
func (s *SQLite) RevokeAuthtoken(ctx context.Context, accountID, id string) error {
	what := "authtoken " + id
	return s.write(ctx, func(tx *sql.Tx) error {
		var owner string
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT account_id, revoked FROM authtokens WHERE id = ?`, id).Scan(&owner, &revoked)
		switch {
		case err != nil:
			return dbErr(what, err)
		case owner != accountID:
			return fmt.Errorf("%w: %s", ErrForbidden, what)
		case revoked.Valid:
			return nil
		}
		rev, err := nextRevision(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE authtokens SET revoked = ?, revision = ? WHERE id = ?`, toDB(s.now()), rev, id)
		return dbErr(what, err)
	})
}

// RevokedTokenIDs implements [Store].
func (s *SQLite) RevokedTokenIDs(ctx context.Context, since int64) ([]Revocation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, account_id, revoked, expires, revision FROM authtokens
		WHERE revision > ? ORDER BY revision`, since)
	if err != nil {
		return nil, dbErr("revocations", err)
	}
	return collect(rows, "revocations", func(row scanner) (Revocation, error) {
		var r Revocation
		var revoked int64
		var expires sql.NullInt64
		err := row.Scan(&r.TokenID, &r.AccountID, &revoked, &expires, &r.Revision)
		r.Revoked, r.Expires = fromDB(revoked), fromDBPtr(expires)
		return r, err
	})
}

// CreateAPIKey implements [Store].
func (s *SQLite) CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error) {
	if k.AccountID == "" || k.Hash == "" {
		return APIKey{}, fmt.Errorf("%w: API key needs an account and a hash", ErrInvalid)
	}
	if k.ID == "" {
		k.ID = newID()
	}
	k.Created = s.orNow(k.Created)
	k.Revoked = nil
	_, err := s.w.ExecContext(ctx, `INSERT INTO api_keys (id, account_id, name, hash, created) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Name, k.Hash, toDB(k.Created))
	if err != nil {
		return APIKey{}, dbErr("API key "+k.ID, err)
	}
	return k, nil
}

const apiKeyCols = `id, account_id, name, hash, created, revoked`

func scanAPIKey(row scanner) (APIKey, error) {
	var k APIKey
	var created int64
	var revoked sql.NullInt64
	err := row.Scan(&k.ID, &k.AccountID, &k.Name, &k.Hash, &created, &revoked)
	k.Created, k.Revoked = fromDB(created), fromDBPtr(revoked)
	return k, err
}

// ListAPIKeys implements [Store]: revoked keys included, oldest first.
func (s *SQLite) ListAPIKeys(ctx context.Context, accountID string) ([]APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE account_id = ? ORDER BY created, id`, accountID)
	if err != nil {
		return nil, dbErr("API keys of "+accountID, err)
	}
	return collect(rows, "API keys of "+accountID, scanAPIKey)
}

// RevokeAPIKey implements [Store]; revoking a revoked key does nothing.
func (s *SQLite) RevokeAPIKey(ctx context.Context, accountID, id string) error {
	what := "API key " + id
	return s.write(ctx, func(tx *sql.Tx) error {
		var owner string
		if err := tx.QueryRowContext(ctx, `SELECT account_id FROM api_keys WHERE id = ?`, id).Scan(&owner); err != nil {
			return dbErr(what, err)
		}
		if owner != accountID {
			return fmt.Errorf("%w: %s", ErrForbidden, what)
		}
		_, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL`, toDB(s.now()), id)
		return dbErr(what, err)
	})
}

// APIKeyByHash implements [Store].
func (s *SQLite) APIKeyByHash(ctx context.Context, hash string) (APIKey, error) {
	k, err := scanAPIKey(s.r.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys
		WHERE hash = ? AND revoked IS NULL`, hash))
	if err != nil {
		return APIKey{}, dbErr("API key", err) // the hash is a credential: not in errors
	}
	return k, nil
}

// CreateSigningKey implements [Store].
func (s *SQLite) CreateSigningKey(ctx context.Context, k SigningKey) (SigningKey, error) {
	if k.ID == "" || len(k.Private) == 0 {
		return SigningKey{}, fmt.Errorf("%w: signing key needs an id and a private key", ErrInvalid)
	}
	k.Created = s.orNow(k.Created)
	k.Retired = nil
	k.Private = append([]byte(nil), k.Private...)
	_, err := s.w.ExecContext(ctx, `INSERT INTO signing_keys (id, private, created) VALUES (?, ?, ?)`,
		k.ID, k.Private, toDB(k.Created))
	if err != nil {
		return SigningKey{}, dbErr("signing key "+k.ID, err)
	}
	return k, nil
}

// SigningKeys implements [Store].
func (s *SQLite) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, private, created, retired FROM signing_keys ORDER BY created, id`)
	if err != nil {
		return nil, dbErr("signing keys", err)
	}
	return collect(rows, "signing keys", func(row scanner) (SigningKey, error) {
		var k SigningKey
		var created int64
		var retired sql.NullInt64
		err := row.Scan(&k.ID, &k.Private, &created, &retired)
		k.Created, k.Retired = fromDB(created), fromDBPtr(retired)
		return k, err
	})
}

// RetireSigningKey implements [Store]; retiring a retired key keeps its
// first retirement time.
func (s *SQLite) RetireSigningKey(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE signing_keys SET retired = COALESCE(retired, ?) WHERE id = ?`, toDB(s.now()), id)
	return affected("signing key "+id, res, err)
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, what string, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, dbErr(what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(what, err)
	}
	return out, nil
}
