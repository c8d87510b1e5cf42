// Package authtoken mints and verifies wsgrok authtokens: the credentials an
// agent sends in the `authtoken` metadata of its HELLO (spec §3.3).
//
// The control service signs tokens with an Ed25519 key; edges verify them
// locally with the public half and never call the control service. A token
// is
//
//	wsg1_ base64url(payload) "." base64url(signature)
//
// with both parts base64url without padding. The payload is the compact JSON
// of [Claims]; the signature is Ed25519 over "wsgrok-authtoken-v1\x00"
// followed by the payload, so that no other signed message of the same key
// can pass for a token. A token is at most [MaxLen] bytes.
//
// Verification is strict: a token is accepted only in the exact form [Mint]
// produces (canonical base64, canonical JSON, no unknown fields), so each
// set of claims has exactly one token.
//
// Tokens are bearer credentials: log them only through [Fingerprint].
package authtoken

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// Prefix begins every token, so that a token is recognisable (and
	// findable by secret scanners) and its format versioned.
	Prefix = "wsg1_"
	// MaxLen is the longest token accepted; a longer one is refused before
	// any decoding.
	MaxLen = 2048
	// ClockSkew is how far in the future a token's issue time may be and
	// still be accepted, for clocks that disagree.
	ClockSkew = 5 * time.Minute

	// KindAuthtoken is the kind of an agent credential, the only kind
	// [Verifier.Verify] accepts.
	KindAuthtoken = "authtoken"
	// KindAPI is reserved for API keys; Verify refuses it with ErrWrongKind.
	KindAPI = "api"

	// domain is signed before the payload (domain separation).
	domain = "wsgrok-authtoken-v1\x00"
)

// Errors that Verify returns. Each error it returns wraps exactly one of
// them; test with errors.Is.
var (
	ErrTooLong      = errors.New("wsgrok: authtoken: too long to be an authtoken: copy the whole token from the dashboard, and nothing else")
	ErrMalformed    = errors.New("wsgrok: authtoken: malformed: copy the whole token from the dashboard")
	ErrUnknownKey   = errors.New("wsgrok: authtoken: signed by a key this edge does not trust: check that the agent and the edge belong to the same wsgrok installation, or create a new token in the dashboard")
	ErrBadSignature = errors.New("wsgrok: authtoken: signature not valid: the token was altered; copy the whole token from the dashboard")
	ErrWrongKind    = errors.New("wsgrok: authtoken: not an agent authtoken (an API key?): copy the authtoken from the dashboard")
	ErrRevoked      = errors.New("wsgrok: authtoken: revoked: create a new one in the dashboard")
	ErrNotYetValid  = errors.New("wsgrok: authtoken: not yet valid: check this machine's clock")
	ErrExpired      = errors.New("wsgrok: authtoken: expired: create a new one in the dashboard")
)

// Claims is what a token says. The JSON names are those of the payload.
type Claims struct {
	KeyID       string `json:"kid"`  // the signing key; set by Mint
	TokenID     string `json:"tid"`  // this token, for revocation
	AccountID   string `json:"acct"` // the account the token acts for
	AccountName string `json:"an"`   // the account's name, for display
	IssuedAt    int64  `json:"iat"`  // Unix seconds; Mint sets it if 0
	ExpiresAt   int64  `json:"exp"`  // Unix seconds; 0 for never
	Kind        string `json:"kind"` // KindAuthtoken or KindAPI; Mint sets KindAuthtoken if ""
}

// check reports what makes c unacceptable whatever the time, or "".
func (c *Claims) check() string {
	switch {
	case c.KeyID == "":
		return "no key id"
	case c.TokenID == "":
		return "no token id"
	case c.AccountID == "":
		return "no account id"
	case c.Kind != KindAuthtoken && c.Kind != KindAPI:
		return "unknown kind"
	case c.IssuedAt <= 0:
		return "no issue time"
	case c.ExpiresAt < 0 || c.ExpiresAt != 0 && c.ExpiresAt <= c.IssuedAt:
		return "expires before it is issued"
	}
	return ""
}

// Key is a signing key. It is secret: its String hides the private key.
type Key struct {
	ID      string
	Private ed25519.PrivateKey
}

// PublicKey is what verifies the tokens of the Key with the same ID.
type PublicKey struct {
	ID  string
	Key ed25519.PublicKey
}

// NewKey returns a new random key named id.
func NewKey(id string) (Key, error) {
	if id == "" {
		return Key{}, errors.New("wsgrok: authtoken: a key needs an id")
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("wsgrok: authtoken: generating a key: %w", err)
	}
	return Key{ID: id, Private: priv}, nil
}

// Public returns the public half of k; its Key is nil if k's is not a valid
// Ed25519 private key.
func (k Key) Public() PublicKey {
	if len(k.Private) != ed25519.PrivateKeySize {
		return PublicKey{ID: k.ID}
	}
	return PublicKey{ID: k.ID, Key: k.Private.Public().(ed25519.PublicKey)}
}

// String names k without its private key, so that logging k is safe.
func (k Key) String() string { return fmt.Sprintf("authtoken.Key{ID: %q}", k.ID) }

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }

// Mint returns the token of c signed by k; it sets c.KeyID to k.ID, and the
// issue time and kind if they are unset. It refuses claims that Verify would
// refuse whatever the time.
func Mint(k Key, c Claims) (string, error) {
	if len(k.Private) != ed25519.PrivateKeySize {
		return "", errors.New("wsgrok: authtoken: mint: not an Ed25519 private key")
	}
	c.KeyID = k.ID
	if c.IssuedAt == 0 {
		c.IssuedAt = time.Now().Unix()
	}
	if c.Kind == "" {
		c.Kind = KindAuthtoken
	}
	if why := c.check(); why != "" {
		return "", fmt.Errorf("wsgrok: authtoken: mint: %s", why)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("wsgrok: authtoken: mint: %w", err)
	}
	tok := sign(k.Private, payload)
	if len(tok) > MaxLen {
		return "", fmt.Errorf("wsgrok: authtoken: mint: %d bytes: %w", len(tok), ErrTooLong)
	}
	return tok, nil
}

var b64 = base64.RawURLEncoding.Strict()

// sign returns the token of payload, whatever payload is.
func sign(priv ed25519.PrivateKey, payload []byte) string {
	sig := ed25519.Sign(priv, signed(payload))
	return Prefix + b64.EncodeToString(payload) + "." + b64.EncodeToString(sig)
}

// signed returns the message the signature is over.
func signed(payload []byte) []byte {
	return append([]byte(domain), payload...)
}

// Fingerprint returns a short identifier of token, safe to log: the first 8
// hex digits of its SHA-256.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:4])
}

// Verifier verifies tokens against a set of trusted keys and revoked token
// ids. It is safe for concurrent use; Verify takes no lock, and sees each
// change to the keys or revocations whole or not at all.
// The zero Verifier trusts no key.
type Verifier struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[snapshot]
}

// snapshot is never modified once stored.
type snapshot struct {
	keys    map[string]ed25519.PublicKey
	revoked map[string]struct{}
}

// NewVerifier returns a Verifier that trusts keys (see SetKeys).
func NewVerifier(keys ...PublicKey) *Verifier {
	v := new(Verifier)
	v.SetKeys(keys...)
	return v
}

func (v *Verifier) load() *snapshot {
	if s := v.snap.Load(); s != nil {
		return s
	}
	return &snapshot{}
}

// SetKeys replaces the trusted keys. Keys with an empty ID or that are not
// Ed25519 public keys are ignored; of keys with the same ID, the last wins.
func (v *Verifier) SetKeys(keys ...PublicKey) {
	m := make(map[string]ed25519.PublicKey, len(keys))
	for _, k := range keys {
		if k.ID != "" && len(k.Key) == ed25519.PublicKeySize {
			m[k.ID] = bytes.Clone(k.Key)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.snap.Store(&snapshot{keys: m, revoked: v.load().revoked})
}

// Revoke adds tokenIDs to the revoked tokens.
func (v *Verifier) Revoke(tokenIDs ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	old := v.load()
	m := make(map[string]struct{}, len(old.revoked)+len(tokenIDs))
	for id := range old.revoked {
		m[id] = struct{}{}
	}
	for _, id := range tokenIDs {
		m[id] = struct{}{}
	}
	v.snap.Store(&snapshot{keys: old.keys, revoked: m})
}

// SetRevoked replaces the revoked tokens with ids.
func (v *Verifier) SetRevoked(ids []string) {
	m := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.snap.Store(&snapshot{keys: v.load().keys, revoked: m})
}

// Verify returns the claims of token if it is an agent authtoken signed by a
// trusted key, not revoked, and valid at now. Otherwise its error wraps
// exactly one of the Err variables. It does not check what the account may
// do; that is the caller's business.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > MaxLen {
		return Claims{}, ErrTooLong
	}
	rest, ok := strings.CutPrefix(token, Prefix)
	if !ok {
		return Claims{}, malformed("does not begin with " + Prefix)
	}
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok {
		return Claims{}, malformed("no signature")
	}
	if !isBase64URL(p64) || !isBase64URL(s64) {
		return Claims{}, malformed("not base64url")
	}
	payload, err := b64.DecodeString(p64)
	if err != nil || len(payload) == 0 {
		return Claims{}, malformed("payload is not base64url")
	}
	sig, err := b64.DecodeString(s64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Claims{}, malformed("signature is not 64 base64url octets")
	}

	// The key id is inside what it signs: read it, unverified, only to find
	// the key.
	var head struct {
		KeyID string `json:"kid"`
	}
	if json.Unmarshal(payload, &head) != nil || head.KeyID == "" {
		return Claims{}, malformed("payload is not JSON with a key id")
	}
	s := v.load()
	pub, ok := s.keys[head.KeyID]
	if !ok {
		kid := head.KeyID
		if len(kid) > 64 {
			kid = kid[:64] + "..."
		}
		return Claims{}, fmt.Errorf("%w (key %q)", ErrUnknownKey, kid)
	}
	if !ed25519.Verify(pub, signed(payload), sig) {
		return Claims{}, ErrBadSignature
	}

	var c Claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if dec.Decode(&c) != nil {
		return Claims{}, malformed("claims are not valid")
	}
	// Only the exact JSON Mint writes: no case-folded, repeated or
	// reordered names, no spaces, no escapes it would not write, nothing
	// after the object.
	if canon, err := json.Marshal(c); err != nil || !bytes.Equal(canon, payload) {
		return Claims{}, malformed("claims are not canonical")
	}
	if c.KeyID != head.KeyID {
		return Claims{}, malformed("key id changed") // cannot happen once canonical
	}
	if why := c.check(); why != "" {
		return Claims{}, malformed(why)
	}
	if c.Kind != KindAuthtoken {
		return Claims{}, ErrWrongKind
	}
	if _, ok := s.revoked[c.TokenID]; ok {
		return Claims{}, ErrRevoked
	}
	if c.IssuedAt > now.Add(ClockSkew).Unix() {
		return Claims{}, fmt.Errorf("%w (issued %s)", ErrNotYetValid, time.Unix(c.IssuedAt, 0).UTC().Format(time.RFC3339))
	}
	if c.ExpiresAt != 0 && now.Unix() >= c.ExpiresAt {
		return Claims{}, fmt.Errorf("%w (expired %s)", ErrExpired, time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

func malformed(why string) error {
	return fmt.Errorf("%w (%s)", ErrMalformed, why)
}

// isBase64URL reports whether s holds only base64url characters, since the
// decoder would skip line breaks.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
