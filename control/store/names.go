package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ReserveName implements [Store].
func (s *SQLite) ReserveName(ctx context.Context, accountID, name string, quarantine time.Duration) (ReservedName, error) {
	name = normName(name)
	if name == "" || accountID == "" {
		return ReservedName{}, fmt.Errorf("%w: reserving needs an account and a name", ErrInvalid)
	}
	what := "name " + name
	var rn ReservedName
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := s.nowUTC()
		rn = ReservedName{Name: name, AccountID: accountID, Created: now}
		cur, err := scanReservedName(tx.QueryRowContext(ctx, `SELECT `+reservedNameCols+` FROM reserved_names WHERE name = ?`, name))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			rev, err := nextRevision(ctx, tx)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO reserved_names (name, account_id, created, revision) VALUES (?, ?, ?, ?)`,
				name, accountID, toDB(now), rev)
			return dbErr(what, err)
		case err != nil:
			return dbErr(what, err)
		case cur.AccountID == accountID && cur.Released == nil:
			rn = cur
			return nil
		case cur.AccountID != accountID && (cur.Released == nil || now.Sub(*cur.Released) < quarantine):
			return fmt.Errorf("%w: %s", ErrNameTaken, what)
		}
		// The account takes back its released name, or another takes it
		// after the quarantine: either way a new reservation.
		rev, err := nextRevision(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE reserved_names SET account_id = ?, created = ?, released = NULL, revision = ? WHERE name = ?`,
			accountID, toDB(now), rev, name)
		return dbErr(what, err)
	})
	if err != nil {
		return ReservedName{}, err
	}
	return rn, nil
}

// ReleaseName implements [Store]. Releasing a released name does nothing,
// and in particular does not restart its quarantine.
func (s *SQLite) ReleaseName(ctx context.Context, accountID, name string) error {
	name = normName(name)
	what := "name " + name
	return s.write(ctx, func(tx *sql.Tx) error {
		cur, err := scanReservedName(tx.QueryRowContext(ctx, `SELECT `+reservedNameCols+` FROM reserved_names WHERE name = ?`, name))
		switch {
		case err != nil:
			return dbErr(what, err)
		case cur.AccountID != accountID:
			return fmt.Errorf("%w: %s", ErrForbidden, what)
		case cur.Released != nil:
			return nil
		}
		now := s.nowUTC()
		rev, err := nextRevision(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reserved_names SET released = ?, revision = ? WHERE name = ?`, toDB(now), rev, name); err != nil {
			return dbErr(what, err)
		}
		// The policy goes with the name, so that it never applies to the
		// name's next owner.
		return deletePolicy(ctx, tx, name, now)
	})
}

// ReservedNames implements [Store].
func (s *SQLite) ReservedNames(ctx context.Context, accountID string) ([]ReservedName, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+reservedNameCols+` FROM reserved_names WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, dbErr("names of "+accountID, err)
	}
	return collect(rows, "names of "+accountID, scanReservedName)
}

// NameOwner implements [Store].
func (s *SQLite) NameOwner(ctx context.Context, name string) (ReservedName, error) {
	name = normName(name)
	rn, err := scanReservedName(s.r.QueryRowContext(ctx, `SELECT `+reservedNameCols+` FROM reserved_names WHERE name = ?`, name))
	if err != nil {
		return ReservedName{}, dbErr("name "+name, err)
	}
	return rn, nil
}

const reservedNameCols = `name, account_id, created, released`

// scanReservedName returns sql.ErrNoRows unwrapped, for callers that
// insert when there is no row.
func scanReservedName(row scanner) (ReservedName, error) {
	var rn ReservedName
	var created int64
	var released sql.NullInt64
	if err := row.Scan(&rn.Name, &rn.AccountID, &created, &released); err != nil {
		return ReservedName{}, err
	}
	rn.Created, rn.Released = fromDB(created), fromDBPtr(released)
	return rn, nil
}

// NamesSince returns the reservations changed after revision (reserved,
// released, or taken by another account), by increasing revision, for
// edges to sync.
func (s *SQLite) NamesSince(ctx context.Context, revision int64) ([]NameChange, error) {
	// Revision 0 asks for everything, including rows from before v3,
	// whose revision is 0.
	rows, err := s.r.QueryContext(ctx, `SELECT `+reservedNameCols+`, revision FROM reserved_names WHERE revision > ? OR ? = 0 ORDER BY revision`, revision, revision)
	if err != nil {
		return nil, dbErr("names since", err)
	}
	return collect(rows, "names since", func(row scanner) (NameChange, error) {
		var c NameChange
		var created int64
		var released sql.NullInt64
		if err := row.Scan(&c.Name, &c.AccountID, &created, &released, &c.Revision); err != nil {
			return c, err
		}
		c.Created, c.Released = fromDB(created), fromDBPtr(released)
		return c, nil
	})
}
