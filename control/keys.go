package control

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/control/authtoken"
	"github.com/wsgrok/wsgrok/control/store"
)

// keyring holds the signing keys: the newest active one signs, every one
// not retired is published to edges.
type keyring struct {
	mu     sync.RWMutex
	active authtoken.Key
	public []api.PublicKey
}

func loadKeyring(ctx context.Context, st store.Store) (*keyring, error) {
	keys, err := st.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	k := &keyring{}
	for _, sk := range keys {
		if sk.Retired != nil || len(sk.Private) != ed25519.SeedSize {
			continue
		}
		key := authtoken.Key{ID: sk.ID, Private: ed25519.NewKeyFromSeed(sk.Private)}
		k.active = key
		pub := key.Public()
		k.public = append(k.public, api.PublicKey{ID: pub.ID, Key: pub.Key})
	}
	if k.active.ID != "" {
		return k, nil
	}
	key, err := authtoken.NewKey("k" + time.Now().UTC().Format("20060102") + "-" + randomHex(4))
	if err != nil {
		return nil, err
	}
	if _, err := st.CreateSigningKey(ctx, store.SigningKey{ID: key.ID, Private: key.Private.Seed()}); err != nil {
		return nil, fmt.Errorf("wsgrok: control: saving the signing key: %w", err)
	}
	pub := key.Public()
	k.active = key
	k.public = []api.PublicKey{{ID: pub.ID, Key: pub.Key}}
	return k, nil
}

func (k *keyring) signer() authtoken.Key {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.active
}

func (k *keyring) published() []api.PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]api.PublicKey(nil), k.public...)
}

// CreateAuthtoken mints a new agent authtoken for an account and records
// it. The token text is returned once; only its fingerprint is kept.
func (s *Service) CreateAuthtoken(ctx context.Context, acct store.Account, name string) (string, store.Authtoken, error) {
	if name == "" {
		name = "authtoken"
	}
	if len(name) > 64 {
		return "", store.Authtoken{}, fmt.Errorf("%w: a token name is at most 64 characters", errBadInput)
	}
	// The token id is chosen first so that the token can be minted before
	// it is recorded with its fingerprint: the store never sees the token.
	id := randomHex(8)
	tok, err := authtoken.Mint(s.keys.signer(), authtoken.Claims{TokenID: id, AccountID: acct.ID, AccountName: acct.Name})
	if err != nil {
		return "", store.Authtoken{}, err
	}
	rec, err := s.st.CreateAuthtoken(ctx, store.Authtoken{ID: id, AccountID: acct.ID, Name: name, Fingerprint: authtoken.Fingerprint(tok)})
	if err != nil {
		return "", store.Authtoken{}, err
	}
	return tok, rec, nil
}
