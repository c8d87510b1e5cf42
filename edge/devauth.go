package edge

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsgrok/wsgrok/control/authtoken"
)

// devAuth signs and verifies authtokens with a development key kept in the
// data directory, for an edge that runs without a control service.
type devAuth struct {
	key authtoken.Key
	v   *authtoken.Verifier
}

const devKeyFile = "dev-signing-key"

func loadDevAuth(dir string) (*devAuth, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wsgrok: edge: cannot create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, devKeyFile)
	var key authtoken.Key
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id, seed, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
		raw, derr := base64.StdEncoding.DecodeString(seed)
		if !ok || derr != nil || len(raw) != ed25519.SeedSize {
			return nil, fmt.Errorf("wsgrok: edge: %s is corrupt: delete it to make a new development key (tokens it signed stop working)", path)
		}
		key = authtoken.Key{ID: id, Private: ed25519.NewKeyFromSeed(raw)}
	case errors.Is(err, os.ErrNotExist):
		var rnd [4]byte
		rand.Read(rnd[:])
		if key, err = authtoken.NewKey("dev-" + hex.EncodeToString(rnd[:])); err != nil {
			return nil, err
		}
		line := key.ID + " " + base64.StdEncoding.EncodeToString(key.Private.Seed()) + "\n"
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			return nil, fmt.Errorf("wsgrok: edge: cannot write %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("wsgrok: edge: cannot read %s: %w", path, err)
	}
	return &devAuth{key: key, v: authtoken.NewVerifier(key.Public())}, nil
}

func (d *devAuth) mint(account string) (string, error) {
	var tid [8]byte
	rand.Read(tid[:])
	return authtoken.Mint(d.key, authtoken.Claims{TokenID: hex.EncodeToString(tid[:]), AccountID: account, AccountName: account})
}

func (d *devAuth) Authenticate(token string) (Identity, error) {
	c, err := d.v.Verify(token, time.Now())
	if err != nil {
		return Identity{}, err
	}
	return Identity{Account: c.AccountID, AccountName: c.AccountName, TokenID: c.TokenID}, nil
}
