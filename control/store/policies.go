package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// PutPolicy implements [Store].
func (s *SQLite) PutPolicy(ctx context.Context, accountID string, p Policy) (Policy, error) {
	p.Endpoint = normName(p.Endpoint)
	p.AccountID = accountID
	if p.Endpoint == "" || p.RateLimit < 0 {
		return Policy{}, fmt.Errorf("%w: policy needs an endpoint and a rate limit of 0 or more", ErrInvalid)
	}
	p = p.normalize()
	lists, err := encodeLists(p)
	if err != nil {
		return Policy{}, err
	}
	what := "policy of " + p.Endpoint
	err = s.write(ctx, func(tx *sql.Tx) error {
		cur, err := scanReservedName(tx.QueryRowContext(ctx, `SELECT `+reservedNameCols+` FROM reserved_names WHERE name = ?`, p.Endpoint))
		switch {
		case err != nil:
			return dbErr(what+": name not reserved", err)
		case cur.AccountID != accountID:
			return fmt.Errorf("%w: %s", ErrForbidden, what)
		case cur.Released != nil:
			return fmt.Errorf("%w: %s: name released", ErrNotFound, what)
		}
		if p.Revision, err = nextRevision(ctx, tx); err != nil {
			return err
		}
		p.Updated = s.nowUTC()
		_, err = tx.ExecContext(ctx, `INSERT INTO policies
			(endpoint, account_id, allow_cidrs, deny_cidrs, block_paths, basic_auth, rate_limit, updated, revision, deleted)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
			ON CONFLICT (endpoint) DO UPDATE SET
				account_id = excluded.account_id, allow_cidrs = excluded.allow_cidrs,
				deny_cidrs = excluded.deny_cidrs, block_paths = excluded.block_paths,
				basic_auth = excluded.basic_auth, rate_limit = excluded.rate_limit,
				updated = excluded.updated, revision = excluded.revision, deleted = 0`,
			p.Endpoint, accountID, lists[0], lists[1], lists[2], lists[3], p.RateLimit, toDB(p.Updated), p.Revision)
		return dbErr(what, err)
	})
	if err != nil {
		return Policy{}, err
	}
	return p, nil
}

// DeletePolicy implements [Store].
func (s *SQLite) DeletePolicy(ctx context.Context, accountID, endpoint string) error {
	endpoint = normName(endpoint)
	what := "policy of " + endpoint
	return s.write(ctx, func(tx *sql.Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT account_id FROM policies WHERE endpoint = ? AND deleted = 0`, endpoint).Scan(&owner)
		switch {
		case err != nil:
			return dbErr(what, err)
		case owner != accountID:
			return fmt.Errorf("%w: %s", ErrForbidden, what)
		}
		return deletePolicy(ctx, tx, endpoint, s.nowUTC())
	})
}

// deletePolicy turns the policy of endpoint, if there is one, into a
// tombstone with a new revision. The tombstone keeps no rules: edges need
// only to know that it is gone, and the basic-auth hashes should not
// linger.
func deletePolicy(ctx context.Context, tx *sql.Tx, endpoint string, now time.Time) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM policies WHERE endpoint = ? AND deleted = 0`, endpoint).Scan(&n)
	if err != nil || n == 0 {
		return dbErr("policy of "+endpoint, err)
	}
	rev, err := nextRevision(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE policies SET allow_cidrs = '[]', deny_cidrs = '[]', block_paths = '[]',
		basic_auth = '[]', rate_limit = 0, updated = ?, revision = ?, deleted = 1 WHERE endpoint = ?`,
		toDB(now), rev, endpoint)
	return dbErr("policy of "+endpoint, err)
}

// Policy implements [Store].
func (s *SQLite) Policy(ctx context.Context, accountID, endpoint string) (Policy, error) {
	endpoint = normName(endpoint)
	what := "policy of " + endpoint
	p, err := scanPolicy(s.r.QueryRowContext(ctx, `SELECT `+policyCols+` FROM policies WHERE endpoint = ? AND deleted = 0`, endpoint))
	switch {
	case err != nil:
		return Policy{}, dbErr(what, err)
	case p.AccountID != accountID:
		return Policy{}, fmt.Errorf("%w: %s", ErrForbidden, what)
	}
	return p, nil
}

// Policies implements [Store].
func (s *SQLite) Policies(ctx context.Context, accountID string) ([]Policy, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+policyCols+` FROM policies
		WHERE account_id = ? AND deleted = 0 ORDER BY endpoint`, accountID)
	if err != nil {
		return nil, dbErr("policies of "+accountID, err)
	}
	return collect(rows, "policies of "+accountID, scanPolicy)
}

// PoliciesSince implements [Store].
func (s *SQLite) PoliciesSince(ctx context.Context, revision int64) ([]Policy, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+policyCols+` FROM policies WHERE revision > ? ORDER BY revision`, revision)
	if err != nil {
		return nil, dbErr("policies", err)
	}
	return collect(rows, "policies", scanPolicy)
}

const policyCols = `endpoint, account_id, allow_cidrs, deny_cidrs, block_paths, basic_auth, rate_limit, updated, revision, deleted`

func scanPolicy(row scanner) (Policy, error) {
	var p Policy
	var allow, deny, block, basic string
	var updated int64
	err := row.Scan(&p.Endpoint, &p.AccountID, &allow, &deny, &block, &basic, &p.RateLimit, &updated, &p.Revision, &p.Deleted)
	if err != nil {
		return Policy{}, err
	}
	p.Updated = fromDB(updated)
	for _, f := range []struct {
		src string
		dst any
	}{{allow, &p.AllowCIDRs}, {deny, &p.DenyCIDRs}, {block, &p.BlockPaths}, {basic, &p.BasicAuth}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return Policy{}, fmt.Errorf("policy of %s: corrupt list: %w", p.Endpoint, err)
		}
	}
	return p.normalize(), nil
}

// encodeLists returns the JSON of p's lists, in column order.
func encodeLists(p Policy) ([4]string, error) {
	var out [4]string
	for i, v := range []any{p.AllowCIDRs, p.DenyCIDRs, p.BlockPaths, p.BasicAuth} {
		b, err := json.Marshal(v)
		if err != nil {
			return out, fmt.Errorf("wsgrok: store: policy of %s: %w", p.Endpoint, err)
		}
		if string(b) == "null" {
			b = []byte("[]") // a nil list
		}
		out[i] = string(b)
	}
	return out, nil
}

// normalize makes empty lists nil, so that a policy reads back as it was
// written whether its lists were nil or empty.
func (p Policy) normalize() Policy {
	if len(p.AllowCIDRs) == 0 {
		p.AllowCIDRs = nil
	}
	if len(p.DenyCIDRs) == 0 {
		p.DenyCIDRs = nil
	}
	if len(p.BlockPaths) == 0 {
		p.BlockPaths = nil
	}
	if len(p.BasicAuth) == 0 {
		p.BasicAuth = nil
	}
	return p
}
