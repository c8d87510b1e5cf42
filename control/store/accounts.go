package store

import (
	"context"
	"fmt"
	"time"
)

// CreateAccount implements [Store].
func (s *SQLite) CreateAccount(ctx context.Context, a Account) (Account, error) {
	a.Email = normName(a.Email)
	if a.Email == "" {
		return Account{}, fmt.Errorf("%w: account without an email", ErrInvalid)
	}
	a.ID = newID()
	a.Created = s.orNow(a.Created)
	_, err := s.w.ExecContext(ctx, `INSERT INTO accounts (id, email, name, password_hash, totp_secret, created)
		VALUES (?, ?, ?, ?, ?, ?)`,
		a.ID, a.Email, a.Name, a.PasswordHash, a.TOTPSecret, toDB(a.Created))
	if err != nil {
		return Account{}, dbErr("account "+a.Email, err)
	}
	return a, nil
}

const accountCols = `id, email, name, password_hash, totp_secret, created`

func scanAccount(row scanner) (Account, error) {
	var a Account
	var created int64
	err := row.Scan(&a.ID, &a.Email, &a.Name, &a.PasswordHash, &a.TOTPSecret, &created)
	a.Created = fromDB(created)
	return a, err
}

// AccountByID implements [Store].
func (s *SQLite) AccountByID(ctx context.Context, id string) (Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	if err != nil {
		return Account{}, dbErr("account "+id, err)
	}
	return a, nil
}

// AccountByEmail implements [Store].
func (s *SQLite) AccountByEmail(ctx context.Context, email string) (Account, error) {
	email = normName(email)
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE email = ?`, email))
	if err != nil {
		return Account{}, dbErr("account "+email, err)
	}
	return a, nil
}

// UpdateAccount implements [Store].
func (s *SQLite) UpdateAccount(ctx context.Context, a Account) error {
	res, err := s.w.ExecContext(ctx, `UPDATE accounts SET name = ?, password_hash = ?, totp_secret = ? WHERE id = ?`,
		a.Name, a.PasswordHash, a.TOTPSecret, a.ID)
	return affected("account "+a.ID, res, err)
}

// CreateSession implements [Store].
func (s *SQLite) CreateSession(ctx context.Context, ds DashboardSession) (DashboardSession, error) {
	if ds.ID == "" || ds.AccountID == "" || ds.Expires.IsZero() {
		return DashboardSession{}, fmt.Errorf("%w: session needs an id, an account and an expiry", ErrInvalid)
	}
	ds.Created = s.orNow(ds.Created)
	if ds.LastSeen.IsZero() {
		ds.LastSeen = ds.Created
	}
	ds.LastSeen = s.orNow(ds.LastSeen)
	ds.Expires = s.orNow(ds.Expires)
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (id, account_id, csrf, created, expires, last_seen)
		VALUES (?, ?, ?, ?, ?, ?)`,
		ds.ID, ds.AccountID, ds.CSRF, toDB(ds.Created), toDB(ds.Expires), toDB(ds.LastSeen))
	if err != nil {
		return DashboardSession{}, dbErr("session", err)
	}
	return ds, nil
}

// SessionByID implements [Store]. An expired session is not found even
// before DeleteExpiredSessions removes it.
func (s *SQLite) SessionByID(ctx context.Context, id string) (DashboardSession, error) {
	var ds DashboardSession
	var created, expires, lastSeen int64
	err := s.r.QueryRowContext(ctx, `SELECT id, account_id, csrf, created, expires, last_seen
		FROM sessions WHERE id = ? AND expires > ?`, id, toDB(s.now())).
		Scan(&ds.ID, &ds.AccountID, &ds.CSRF, &created, &expires, &lastSeen)
	if err != nil {
		// The id is a credential hash: not in errors.
		return DashboardSession{}, dbErr("session", err)
	}
	ds.Created, ds.Expires, ds.LastSeen = fromDB(created), fromDB(expires), fromDB(lastSeen)
	return ds, nil
}

// TouchSession implements [Store].
func (s *SQLite) TouchSession(ctx context.Context, id string, expires time.Time) error {
	now := s.now()
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET last_seen = ?, expires = ? WHERE id = ? AND expires > ?`,
		toDB(now), toDB(expires), id, toDB(now))
	return affected("session", res, err)
}

// DeleteSession implements [Store]; deleting a missing session is not an
// error (logging out twice is fine).
func (s *SQLite) DeleteSession(ctx context.Context, id string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return dbErr("delete session", err)
}

// DeleteAccountSessions implements [Store].
func (s *SQLite) DeleteAccountSessions(ctx context.Context, accountID string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = ?`, accountID)
	return dbErr("delete sessions of "+accountID, err)
}

// DeleteExpiredSessions implements [Store].
func (s *SQLite) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= ?`, toDB(s.now()))
	if err != nil {
		return 0, dbErr("delete expired sessions", err)
	}
	n, err := res.RowsAffected()
	return n, dbErr("delete expired sessions", err)
}
