package fuzz

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/control/authtoken"
)

// authtokenNow is the fixed time tokens are verified at.
var authtokenNow = time.Unix(1_800_000_000, 0)

// authtokenKey is a fixed test key, so that seeds and crashers replay.
func authtokenKey() authtoken.Key {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return authtoken.Key{ID: "fuzz-1", Private: ed25519.NewKeyFromSeed(seed)}
}

var authtokenErrs = []error{
	authtoken.ErrTooLong, authtoken.ErrMalformed, authtoken.ErrUnknownKey,
	authtoken.ErrBadSignature, authtoken.ErrWrongKind, authtoken.ErrRevoked,
	authtoken.ErrNotYetValid, authtoken.ErrExpired,
}

// checkAuthtoken verifies token and checks what any answer must satisfy.
func checkAuthtoken(t *testing.T, k authtoken.Key, v *authtoken.Verifier, token string) {
	c, err := v.Verify(token, authtokenNow)
	if err != nil {
		n := 0
		for _, e := range authtokenErrs {
			if errors.Is(err, e) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error wraps %d sentinels: %v", n, err)
		}
		if c != (authtoken.Claims{}) {
			t.Fatalf("claims %+v with error %v", c, err)
		}
		return
	}
	if c.KeyID != k.ID || c.TokenID == "" || c.AccountID == "" || c.Kind != authtoken.KindAuthtoken || c.IssuedAt <= 0 {
		t.Fatalf("accepted incomplete claims %+v", c)
	}
	again, err := authtoken.Mint(k, c)
	if err != nil {
		t.Fatalf("re-minting accepted claims %+v: %v", c, err)
	}
	c2, err := v.Verify(again, authtokenNow)
	if err != nil || c2 != c {
		t.Fatalf("re-minted token verifies to %+v, %v\nwant %+v", c2, err, c)
	}
	// Tokens are canonical: the same claims make the same token.
	if again != token {
		t.Fatalf("accepted %q\nbut its claims mint %q", token, again)
	}
}

// FuzzAuthtoken verifies arbitrary strings as authtokens: Verify never
// panics, every refusal wraps exactly one sentinel error, and whatever is
// accepted re-mints, with the same key, to the same token.
func FuzzAuthtoken(f *testing.F) {
	k := authtokenKey()
	v := authtoken.NewVerifier(k.Public())
	v.Revoke("revoked")
	mint := func(c authtoken.Claims) string {
		tok, err := authtoken.Mint(k, c)
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	iat := authtokenNow.Unix() - 3600
	valid := mint(authtoken.Claims{TokenID: "tok_1", AccountID: "acct_A", AccountName: "Alice <&> Co", IssuedAt: iat, ExpiresAt: iat + 7200})
	if _, err := v.Verify(valid, authtokenNow); err != nil {
		f.Fatalf("the valid seed does not verify: %v", err)
	}
	seeds := []string{
		valid,
		mint(authtoken.Claims{TokenID: "tok_2", AccountID: "acct_B", IssuedAt: iat}),
		mint(authtoken.Claims{TokenID: "revoked", AccountID: "acct_A", IssuedAt: iat}),
		mint(authtoken.Claims{TokenID: "tok_3", AccountID: "acct_A", IssuedAt: iat, ExpiresAt: iat + 1}),
		mint(authtoken.Claims{TokenID: "tok_4", AccountID: "acct_A", IssuedAt: authtokenNow.Unix() + 3600}),
		mint(authtoken.Claims{TokenID: "tok_5", AccountID: "acct_A", IssuedAt: iat, Kind: authtoken.KindAPI}),
		"", "wsg1_", "wsg1_.", valid + ".", valid + "==", "wsg2_" + valid[5:],
	}
	other, err := authtoken.NewKey("fuzz-2")
	if err != nil {
		f.Fatal(err)
	}
	if tok, err := authtoken.Mint(other, authtoken.Claims{TokenID: "t", AccountID: "a", IssuedAt: iat}); err == nil {
		seeds = append(seeds, tok)
	}
	for _, n := range []int{1, 5, 6, 20, len(valid) / 2, len(valid) - 87, len(valid) - 86, len(valid) - 1} {
		seeds = append(seeds, valid[:n])
	}
	for _, i := range []int{5, 10, 30, len(valid) - 87, len(valid) - 40, len(valid) - 1} {
		b := []byte(valid)
		b[i] ^= 1
		seeds = append(seeds, string(b))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		checkAuthtoken(t, k, v, token)
	})
}

// FuzzAuthtokenClaims signs arbitrary payloads with the trusted key, to
// reach the claims parser that FuzzAuthtoken cannot get past the signature
// to: the same properties must hold.
func FuzzAuthtokenClaims(f *testing.F) {
	k := authtokenKey()
	v := authtoken.NewVerifier(k.Public())
	v.Revoke("revoked")
	seeds := []string{
		`{"kid":"fuzz-1","tid":"t","acct":"a","an":"A","iat":1799990000,"exp":0,"kind":"authtoken"}`,
		`{"kid":"fuzz-1","tid":"t","acct":"a","an":"A","iat":1799990000,"exp":1800000001,"kind":"authtoken"}`,
		`{"kid":"fuzz-1","tid":"revoked","acct":"a","an":"A","iat":1799990000,"exp":0,"kind":"authtoken"}`,
		`{"kid":"fuzz-1","tid":"t","acct":"a","an":"A","iat":1799990000,"exp":0,"kind":"api"}`,
		`{"kid":"fuzz-1","tid":"t","acct":"a","an":"A","iat":1799990000,"exp":0,"kind":"authtoken","x":1}`,
		`{"kid":"fuzz-1","tid":"t","acct":"a","an":"A","iat":1799990000,"exp":0,"kind":"authtoken","acct":"b"}`,
		`{"KID":"fuzz-1","tid":"t","acct":"\u0061","an":"\ud800","iat":1e3,"exp":-1,"kind":"authtoken"}`,
		`{"kid":"fuzz-1"}`,
		`{"kid":"other"}`,
		`null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	const domain = "wsgrok-authtoken-v1\x00" // spec'd in the authtoken package
	b64 := base64.RawURLEncoding
	token := func(payload []byte) string {
		sig := ed25519.Sign(k.Private, append([]byte(domain), payload...))
		return authtoken.Prefix + b64.EncodeToString(payload) + "." + b64.EncodeToString(sig)
	}
	// The first seed must pass, or this target tests nothing.
	if _, err := v.Verify(token([]byte(seeds[0])), authtokenNow); err != nil {
		f.Fatalf("the canonical seed does not verify: %v", err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkAuthtoken(t, k, v, token(payload))
	})
}
