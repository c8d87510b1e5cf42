// Package store is the control service's persistent state: accounts,
// dashboard sessions, authtokens, API keys, signing keys, reserved names,
// per-endpoint security policies and usage analytics.
//
// [Store] is the contract; [SQLite] (from [Open]) implements it over an
// embedded, cgo-free SQLite database in a data directory, so that a
// PostgreSQL implementation can follow without touching its callers. Every
// method that returns nil has committed durably: what it wrote survives a
// kill -9 of the process and a power loss.
//
// The store keeps secrets only in the form the caller gives them: password
// hashes, token fingerprints and API key hashes are opaque strings; the one
// exception is signing keys, whose private bytes are stored as given, which
// is why the data directory and database are created readable by their
// owner only.
//
// Errors that callers act on wrap one of the sentinels below; test with
// errors.Is.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors the store returns, wrapped with what was being looked for.
var (
	// ErrNotFound: no such object (or no longer valid, for credentials).
	ErrNotFound = errors.New("wsgrok: store: not found")
	// ErrDuplicate: an object with the same unique key exists (an email,
	// a token id, an API key hash...).
	ErrDuplicate = errors.New("wsgrok: store: already exists")
	// ErrForbidden: the object belongs to another account.
	ErrForbidden = errors.New("wsgrok: store: belongs to another account")
	// ErrNameTaken: another account holds the name, or released it less
	// than the quarantine ago.
	ErrNameTaken = errors.New("wsgrok: store: name taken")
	// ErrInvalid: a required field is missing or a value is out of range.
	ErrInvalid = errors.New("wsgrok: store: invalid")
)

// Store is the control service's persistence contract. Implementations
// are safe for concurrent use. Times are returned in UTC.
//
// Objects of one account are acted on through that account's id: a method
// given an accountID and the id of another account's object fails with
// ErrForbidden, so that the control service cannot act across accounts by
// forgetting a check. (Whether to show that as 403 or 404 is the caller's
// choice.)
type Store interface {
	// CreateAccount stores a with a new random ID and, if zero, Created
	// set to now; the email is stored trimmed and lower-cased and must be
	// unique (ErrDuplicate). It returns the stored account.
	CreateAccount(ctx context.Context, a Account) (Account, error)
	// AccountByID returns an account, or ErrNotFound.
	AccountByID(ctx context.Context, id string) (Account, error)
	// AccountByEmail finds an account by email, case-insensitively.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// UpdateAccount sets the Name, PasswordHash and TOTPSecret of the
	// account a.ID (ErrNotFound if none); the email and creation time do
	// not change.
	UpdateAccount(ctx context.Context, a Account) error

	// CreateSession stores s (its ID is the hash of the session cookie);
	// Created and LastSeen default to now.
	CreateSession(ctx context.Context, s DashboardSession) (DashboardSession, error)
	// SessionByID returns the session, or ErrNotFound if there is none or
	// it has expired.
	SessionByID(ctx context.Context, id string) (DashboardSession, error)
	// TouchSession records activity now and moves the expiry (sliding
	// sessions).
	TouchSession(ctx context.Context, id string, expires time.Time) error
	// DeleteSession logs a session out; a missing session is not an error.
	DeleteSession(ctx context.Context, id string) error
	// DeleteAccountSessions ends every session of an account, e.g. after
	// a password change.
	DeleteAccountSessions(ctx context.Context, accountID string) error
	// DeleteExpiredSessions removes expired sessions and returns how many.
	DeleteExpiredSessions(ctx context.Context) (int64, error)

	// CreateAuthtoken records a minted token; an empty ID gets a random
	// one, which is then what must be signed into the token.
	CreateAuthtoken(ctx context.Context, t Authtoken) (Authtoken, error)
	// AuthtokenByID returns a token, revoked or not.
	AuthtokenByID(ctx context.Context, id string) (Authtoken, error)
	// ListAuthtokens returns an account's tokens, revoked ones included,
	// oldest first.
	ListAuthtokens(ctx context.Context, accountID string) ([]Authtoken, error)
	// MarkAuthtokenUsed moves LastUsed forward to at (never backward, as
	// edges report out of order).
	MarkAuthtokenUsed(ctx context.Context, id string, at time.Time) error
	// RevokeAuthtoken revokes an account's token; revoking a revoked
	// token does nothing.
	RevokeAuthtoken(ctx context.Context, accountID, id string) error
	// RevokedTokenIDs returns the revocations with a Revision above
	// since, by increasing Revision: edges poll with the highest Revision
	// they have seen (0 at first) and never miss or repeat one.
	RevokedTokenIDs(ctx context.Context, since int64) ([]Revocation, error)

	// CreateAPIKey stores k (Hash is of the secret, which the store never
	// sees; it must be unique). An empty ID gets a random one.
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	// ListAPIKeys returns an account's keys, revoked ones included,
	// oldest first.
	ListAPIKeys(ctx context.Context, accountID string) ([]APIKey, error)
	// RevokeAPIKey revokes an account's key; revoking a revoked key does
	// nothing.
	RevokeAPIKey(ctx context.Context, accountID, id string) error
	// APIKeyByHash authenticates: it returns ErrNotFound for a revoked
	// key as for an unknown one.
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)

	// CreateSigningKey stores a new signing key; its ID (the kid) must be
	// new.
	CreateSigningKey(ctx context.Context, k SigningKey) (SigningKey, error)
	// SigningKeys returns every key, active and retired, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// RetireSigningKey marks a key retired: no longer used to sign, still
	// trusted until the caller stops publishing it.
	RetireSigningKey(ctx context.Context, id string) error

	// ReserveName gives name to an account. It fails with ErrNameTaken if
	// another account holds the name, or released it less than quarantine
	// ago (so that a name is not handed to someone else at once). An
	// account may always take back a name it released; reserving a name
	// one already holds returns it unchanged.
	ReserveName(ctx context.Context, accountID, name string, quarantine time.Duration) (ReservedName, error)
	// ReleaseName gives up a name (and deletes its policy); the
	// quarantine starts now.
	ReleaseName(ctx context.Context, accountID, name string) error
	// ReservedNames returns an account's names, held and released (until
	// another account takes them), by name.
	ReservedNames(ctx context.Context, accountID string) ([]ReservedName, error)
	// NameOwner returns the last reservation of name, or ErrNotFound if it
	// was never reserved.
	NameOwner(ctx context.Context, name string) (ReservedName, error)
	// NamesSince returns the reservations changed after revision, by
	// increasing Revision, on the same cursor as RevokedTokenIDs and
	// PoliciesSince.
	NamesSince(ctx context.Context, revision int64) ([]NameChange, error)

	// PutPolicy creates or replaces the policy of an endpoint; the account
	// must hold the endpoint's name (ErrForbidden if another account does,
	// ErrNotFound if nobody does). It returns the policy with its new
	// Revision and Updated time.
	PutPolicy(ctx context.Context, accountID string, p Policy) (Policy, error)
	// DeletePolicy removes a policy; edges see it as Deleted.
	DeletePolicy(ctx context.Context, accountID, endpoint string) error
	// Policy returns the policy of an endpoint, or ErrNotFound if it has
	// none.
	Policy(ctx context.Context, accountID, endpoint string) (Policy, error)
	// Policies returns an account's policies, by endpoint.
	Policies(ctx context.Context, accountID string) ([]Policy, error)
	// PoliciesSince returns the policies of all accounts changed after
	// revision, by increasing Revision, deleted ones included (Deleted
	// set) so that edges drop them.
	PoliciesSince(ctx context.Context, revision int64) ([]Policy, error)

	// AddUsage adds deltas: counters of a sample are added to those
	// already stored for the same account, endpoint and minute, so that
	// several edges can report the same minute. All samples are stored or
	// none.
	AddUsage(ctx context.Context, samples ...UsageSample) error
	// Usage returns an account's per-minute usage in [from, to), oldest
	// first, for one endpoint or, if endpoint is "", summed over all of
	// them (with Endpoint ""). Minutes without traffic are absent.
	Usage(ctx context.Context, accountID, endpoint string, from, to time.Time) ([]UsageSample, error)
	// PruneUsage deletes the minutes before olderThan and returns how many
	// rows went.
	PruneUsage(ctx context.Context, olderThan time.Time) (int64, error)

	// Close releases the database. Everything committed is already
	// durable, so not calling it loses nothing.
	Close() error
}

// Account is a dashboard user and the owner of everything else.
type Account struct {
	ID           string // random, 16 hex digits
	Email        string // unique, lower-cased
	Name         string
	PasswordHash string // opaque to the store
	TOTPSecret   string // opaque; "" when two-factor is off
	Created      time.Time
}

// DashboardSession is a logged-in dashboard browser.
type DashboardSession struct {
	ID        string // hash of the session cookie; opaque to the store
	AccountID string
	CSRF      string
	Created   time.Time
	Expires   time.Time
	LastSeen  time.Time
}

// Authtoken records an agent credential. The token itself is never stored:
// it is signed, and edges verify it without the store.
type Authtoken struct {
	ID          string // the token id carried in the signed token
	AccountID   string
	Name        string
	Fingerprint string // to recognise the token in lists and logs
	Created     time.Time
	Expires     *time.Time // nil: never
	LastUsed    *time.Time
	Revoked     *time.Time
}

// Revocation is a revoked authtoken, as edges sync it.
type Revocation struct {
	TokenID   string
	AccountID string
	Revoked   time.Time
	Expires   *time.Time // once past, edges may forget the revocation
	Revision  int64
}

// APIKey is a credential for the control service's API.
type APIKey struct {
	ID        string
	AccountID string
	Name      string
	Hash      string // of the secret; the store never sees the secret
	Created   time.Time
	Revoked   *time.Time
}

// SigningKey signs authtokens. Private is stored as given.
type SigningKey struct {
	ID      string // the kid in tokens
	Private []byte
	Created time.Time
	Retired *time.Time
}

// ReservedName is a subdomain reserved by an account.
type ReservedName struct {
	Name      string // lower-cased
	AccountID string
	Created   time.Time
	Released  *time.Time // nil while held
}

// NameChange is a reservation as edges sync it.
type NameChange struct {
	ReservedName
	Revision int64
}

// BasicAuthUser is a user of an endpoint's basic authentication.
type BasicAuthUser struct {
	User         string `json:"user"`
	PasswordHash string `json:"password_hash"`
}

// Policy is the security policy edges enforce for an endpoint.
type Policy struct {
	Endpoint   string // the tunnel name, lower-cased; a name the account holds
	AccountID  string
	AllowCIDRs []string
	DenyCIDRs  []string
	BlockPaths []string
	BasicAuth  []BasicAuthUser
	RateLimit  int // requests per minute per client IP; 0 for none
	Updated    time.Time
	Revision   int64 // set by the store; increases with every change
	Deleted    bool  // only from PoliciesSince: drop the policy
}

// UsageSample is the traffic of one endpoint in one minute, or a delta to
// add to it.
type UsageSample struct {
	AccountID string
	Endpoint  string
	Minute    time.Time // truncated to the minute, UTC

	Requests  int64
	BytesIn   int64
	BytesOut  int64
	Status1xx int64
	Status2xx int64
	Status3xx int64
	Status4xx int64
	Status5xx int64
	Blocked   int64 // refused by the endpoint's policy

	// LatencyBuckets counts requests by latency: LatencyBuckets[i] those
	// in (LatencyBounds[i-1], LatencyBounds[i]], the last those above
	// every bound. Shorter slices are zero-extended; the store returns
	// NumLatencyBuckets entries.
	LatencyBuckets []int64
}
