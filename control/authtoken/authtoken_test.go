package authtoken

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var now = time.Unix(1_800_000_000, 0)

func testKey(t testing.TB, id string) Key {
	t.Helper()
	k, err := NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func claims() Claims {
	return Claims{TokenID: "tok_1", AccountID: "acct_A", AccountName: "Alice & Co", IssuedAt: now.Unix() - 60}
}

func mint(t testing.TB, k Key, c Claims) string {
	t.Helper()
	tok, err := Mint(k, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantErr(t *testing.T, v *Verifier, tok string, want error) {
	t.Helper()
	c, err := v.Verify(tok, now)
	if !errors.Is(err, want) {
		t.Fatalf("Verify(%.40q...) = %+v, %v; want %v", tok, c, err, want)
	}
	if c != (Claims{}) {
		t.Fatalf("claims %+v with error %v", c, err)
	}
}

func TestRoundTrip(t *testing.T) {
	k := testKey(t, "k1")
	v := NewVerifier(k.Public())
	c := claims()
	c.ExpiresAt = now.Unix() + 3600
	c.KeyID = "ignored"
	tok := mint(t, k, c)
	if !strings.HasPrefix(tok, Prefix) || strings.Count(tok, ".") != 1 {
		t.Fatalf("token %q", tok)
	}
	got, err := v.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	c.KeyID, c.Kind = "k1", KindAuthtoken
	if got != c {
		t.Fatalf("got %+v\nwant %+v", got, c)
	}
	// Ed25519 is deterministic and the encoding canonical: one token per claims.
	if again := mint(t, k, got); again != tok {
		t.Fatalf("re-minted %q\nwas %q", again, tok)
	}
	if fp := Fingerprint(tok); len(fp) != 8 || strings.Trim(fp, "0123456789abcdef") != "" || fp != Fingerprint(tok) || fp == Fingerprint(tok+"x") {
		t.Fatalf("fingerprint %q", fp)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", k, k, k, k); strings.Contains(s, fmt.Sprint([]byte(k.Private))) || !strings.Contains(s, "k1") {
		t.Fatalf("key prints as %s", s)
	}
}

func TestMintDefaultsAndRefusals(t *testing.T) {
	k := testKey(t, "k1")
	tok := mint(t, k, Claims{TokenID: "t", AccountID: "a"})
	c, err := NewVerifier(k.Public()).Verify(tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != KindAuthtoken || c.IssuedAt == 0 || c.ExpiresAt != 0 {
		t.Fatalf("defaults %+v", c)
	}
	for _, c := range []Claims{
		{AccountID: "a", IssuedAt: 1},
		{TokenID: "t", IssuedAt: 1},
		{TokenID: "t", AccountID: "a", IssuedAt: 1, Kind: "root"},
		{TokenID: "t", AccountID: "a", IssuedAt: -1},
		{TokenID: "t", AccountID: "a", IssuedAt: 10, ExpiresAt: 10},
		{TokenID: "t", AccountID: "a", IssuedAt: 10, ExpiresAt: -1},
	} {
		if _, err := Mint(k, c); err == nil {
			t.Errorf("Mint(%+v) succeeded", c)
		}
	}
	if _, err := Mint(Key{ID: "x"}, claims()); err == nil {
		t.Error("Mint without a private key succeeded")
	}
	if _, err := Mint(Key{ID: "", Private: k.Private}, claims()); err == nil {
		t.Error("Mint with no key id succeeded")
	}
	big := claims()
	big.AccountName = strings.Repeat("x", MaxLen)
	if _, err := Mint(k, big); !errors.Is(err, ErrTooLong) {
		t.Errorf("Mint of a huge token: %v", err)
	}
	if _, err := NewKey(""); err == nil {
		t.Error("NewKey with no id succeeded")
	}
}

func TestTampered(t *testing.T) {
	k := testKey(t, "k1")
	v := NewVerifier(k.Public())
	tok := mint(t, k, claims())
	dot := strings.IndexByte(tok, '.')
	flip := func(i int) string {
		b := []byte(tok)
		// Swap to another base64url character of the same low bits' class.
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for i := len(Prefix); i < dot-1; i++ { // the last character may hold only padding bits
		_, err := v.Verify(flip(i), now)
		if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("payload byte %d changed: %v", i, err)
		}
	}
	for i := dot + 1; i < len(tok)-1; i++ {
		wantErr(t, v, flip(i), ErrBadSignature)
	}
	// A changed claim, properly encoded, is caught by the signature.
	p, _ := b64.DecodeString(tok[len(Prefix):dot])
	p2 := []byte(strings.Replace(string(p), "acct_A", "acct_B", 1))
	wantErr(t, v, Prefix+b64.EncodeToString(p2)+tok[dot:], ErrBadSignature)
	// Non-canonical trailing bits in the last character.
	last := tok[:len(tok)-1] + string(tok[len(tok)-1]+1)
	wantErr(t, v, last, ErrMalformed)
}

func TestTruncated(t *testing.T) {
	k := testKey(t, "k1")
	v := NewVerifier(k.Public())
	tok := mint(t, k, claims())
	dot := strings.IndexByte(tok, '.')
	for _, n := range []int{0, 1, len(Prefix) - 1, len(Prefix), len(Prefix) + 1, dot - 1, dot, dot + 1, dot + 2, len(tok) - 4, len(tok) - 1} {
		if _, err := v.Verify(tok[:n], now); !errors.Is(err, ErrMalformed) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
	// Truncating the payload while keeping the signature.
	if _, err := v.Verify(tok[:dot-4]+tok[dot:], now); !errors.Is(err, ErrMalformed) {
		t.Errorf("payload truncated: %v", err)
	}
}

func TestShape(t *testing.T) {
	k := testKey(t, "k1")
	v := NewVerifier(k.Public())
	tok := mint(t, k, claims())
	dot := strings.IndexByte(tok, '.')
	for name, bad := range map[string]string{
		"wrong prefix":      "wsg2_" + tok[len(Prefix):],
		"no prefix":         tok[len(Prefix):],
		"upper prefix":      "WSG1_" + tok[len(Prefix):],
		"extra dot":         tok + ".",
		"extra dot inside":  tok[:dot] + "." + tok[dot:],
		"two parts":         tok + "." + tok[dot+1:],
		"padding":           tok + "==",
		"line break":        tok[:dot-2] + "\n" + tok[dot-2:],
		"space":             " " + tok,
		"standard base64":   tok[:len(Prefix)+1] + "+" + tok[len(Prefix)+2:],
		"empty payload":     Prefix + tok[dot:],
		"empty":             "",
		"signature too big": tok + "AA",
	} {
		if _, err := v.Verify(bad, now); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	wantErr(t, v, tok+strings.Repeat("A", MaxLen), ErrTooLong)
	wantErr(t, v, strings.Repeat("x", MaxLen+1), ErrTooLong)
}

func TestUnknownKey(t *testing.T) {
	k1, k2 := testKey(t, "k1"), testKey(t, "k2")
	v := NewVerifier(k1.Public())
	wantErr(t, v, mint(t, k2, claims()), ErrUnknownKey)
	// Same id, other key: the signature fails.
	impostor := testKey(t, "k1")
	wantErr(t, v, mint(t, impostor, claims()), ErrBadSignature)
	// The zero Verifier trusts nothing.
	wantErr(t, new(Verifier), mint(t, k1, claims()), ErrUnknownKey)
	// Invalid keys are ignored, not trusted and not panicked on.
	v.SetKeys(PublicKey{ID: "k2", Key: ed25519.PublicKey{1, 2, 3}}, PublicKey{ID: "", Key: k2.Public().Key})
	wantErr(t, v, mint(t, k2, claims()), ErrUnknownKey)
	wantErr(t, v, mint(t, k1, claims()), ErrUnknownKey)
	if pk := (Key{ID: "bad", Private: ed25519.PrivateKey{1}}).Public(); pk.Key != nil {
		t.Fatalf("public half of a broken key: %v", pk.Key)
	}
	// Rotation: both keys trusted.
	v.SetKeys(k1.Public(), k2.Public())
	for _, k := range []Key{k1, k2} {
		if _, err := v.Verify(mint(t, k, claims()), now); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTimes(t *testing.T) {
	k := testKey(t, "k1")
	v := NewVerifier(k.Public())
	c := claims()
	c.ExpiresAt = now.Unix()
	wantErr(t, v, mint(t, k, c), ErrExpired)
	c.ExpiresAt = now.Unix() + 1
	if _, err := v.Verify(mint(t, k, c), now); err != nil {
		t.Fatalf("one second before expiry: %v", err)
	}

	c = claims()
	c.IssuedAt = now.Add(ClockSkew).Unix() + 1
	wantErr(t, v, mint(t, k, c), ErrNotYetValid)
	c.IssuedAt = now.Add(ClockSkew).Unix()
	if _, err := v.Verify(mint(t, k, c), now); err != nil {
		t.Fatalf("issued within the skew: %v", err)
	}
}

func TestRevoked(t *testing.T) {
	k := testKey(t, "k1")
	v := NewVerifier(k.Public())
	tok := mint(t, k, claims())
	other := claims()
	other.TokenID = "tok_2"
	tok2 := mint(t, k, other)
	v.Revoke("tok_1")
	v.Revoke("tok_0")
	wantErr(t, v, tok, ErrRevoked)
	if _, err := v.Verify(tok2, now); err != nil {
		t.Fatalf("other token: %v", err)
	}
	v.SetKeys(k.Public()) // keeps revocations
	wantErr(t, v, tok, ErrRevoked)
	v.SetRevoked(nil)
	if _, err := v.Verify(tok, now); err != nil {
		t.Fatalf("after un-revoking: %v", err)
	}
	v.SetRevoked([]string{"tok_2"})
	wantErr(t, v, tok2, ErrRevoked)
	if _, err := v.Verify(tok, now); err != nil {
		t.Fatal(err)
	}
	v.SetRevoked([]string{})
	if _, err := v.Verify(tok2, now); err != nil {
		t.Fatalf("after SetRevoked(empty): %v", err)
	}
}

// TestPayloads signs payloads that Mint would never write: only the
// signature stands between them and acceptance, so the claims check must
// refuse them.
func TestPayloads(t *testing.T) {
	k := testKey(t, "k1")
	v := NewVerifier(k.Public())
	const good = `{"kid":"k1","tid":"t","acct":"a","an":"A","iat":1799999000,"exp":0,"kind":"authtoken"}`
	if _, err := v.Verify(sign(k.Private, []byte(good)), now); err != nil {
		t.Fatalf("canonical payload: %v", err)
	}
	for name, p := range map[string]string{
		"unknown field":  `{"kid":"k1","tid":"t","acct":"a","an":"A","iat":1799999000,"exp":0,"kind":"authtoken","admin":true}`,
		"no tid":         `{"kid":"k1","acct":"a","an":"A","iat":1799999000,"exp":0,"kind":"authtoken"}`,
		"no acct":        `{"kid":"k1","tid":"t","an":"A","iat":1799999000,"exp":0,"kind":"authtoken"}`,
		"empty acct":     `{"kid":"k1","tid":"t","acct":"","an":"A","iat":1799999000,"exp":0,"kind":"authtoken"}`,
		"no kind":        `{"kid":"k1","tid":"t","acct":"a","an":"A","iat":1799999000,"exp":0}`,
		"other kind":     `{"kid":"k1","tid":"t","acct":"a","an":"A","iat":1799999000,"exp":0,"kind":"root"}`,
		"no iat":         `{"kid":"k1","tid":"t","acct":"a","an":"A","exp":0,"kind":"authtoken"}`,
		"negative exp":   `{"kid":"k1","tid":"t","acct":"a","an":"A","iat":1799999000,"exp":-5,"kind":"authtoken"}`,
		"exp before iat": `{"kid":"k1","tid":"t","acct":"a","an":"A","iat":1799999000,"exp":1799998000,"kind":"authtoken"}`,
		"float iat":      `{"kid":"k1","tid":"t","acct":"a","an":"A","iat":1799999000.5,"exp":0,"kind":"authtoken"}`,
		"string iat":     `{"kid":"k1","tid":"t","acct":"a","an":"A","iat":"1799999000","exp":0,"kind":"authtoken"}`,
		"spaces":         `{"kid": "k1","tid":"t","acct":"a","an":"A","iat":1799999000,"exp":0,"kind":"authtoken"}`,
		"reordered":      `{"tid":"t","kid":"k1","acct":"a","an":"A","iat":1799999000,"exp":0,"kind":"authtoken"}`,
		"repeated acct":  `{"kid":"k1","tid":"t","acct":"a","an":"A","iat":1799999000,"exp":0,"kind":"authtoken","acct":"b"}`,
		"case-folded":    `{"kid":"k1","tid":"t","ACCT":"a","an":"A","iat":1799999000,"exp":0,"kind":"authtoken"}`,
		"escaped":        `{"kid":"k1","tid":"t","acct":"\u0061","an":"A","iat":1799999000,"exp":0,"kind":"authtoken"}`,
		"trailing data":  good + ` {}`,
		"trailing space": good + ` `,
		"bad utf-8":      `{"kid":"k1","tid":"t","acct":"a","an":"` + "\xff" + `","iat":1799999000,"exp":0,"kind":"authtoken"}`,
		"array":          `[` + good + `]`,
		"null":           `null`,
		"not json":       `kid=k1`,
		"kid not string": `{"kid":1}`,
	} {
		if _, err := v.Verify(sign(k.Private, []byte(p)), now); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	api := strings.Replace(good, `"authtoken"`, `"api"`, 1)
	wantErr(t, v, sign(k.Private, []byte(api)), ErrWrongKind)
}

// TestAnyAccount: the package vouches for who the token belongs to, not for
// what that account may bind; the edge checks names against the account.
func TestAnyAccount(t *testing.T) {
	k := testKey(t, "k1")
	v := NewVerifier(k.Public())
	for _, acct := range []string{"acct_A", "acct_B"} {
		c := claims()
		c.AccountID, c.TokenID = acct, "tok_"+acct
		got, err := v.Verify(mint(t, k, c), now)
		if err != nil || got.AccountID != acct {
			t.Fatalf("%s: %+v, %v", acct, got, err)
		}
	}
}

func TestErrorsWrapOneSentinel(t *testing.T) {
	all := []error{ErrTooLong, ErrMalformed, ErrUnknownKey, ErrBadSignature, ErrWrongKind, ErrRevoked, ErrNotYetValid, ErrExpired}
	for _, e := range all {
		if !strings.HasPrefix(e.Error(), "wsgrok: authtoken: ") || !strings.Contains(e.Error(), ": ") {
			t.Errorf("message %q", e)
		}
	}
	k := testKey(t, "k1")
	v := NewVerifier(k.Public())
	v.Revoke("r")
	c := claims()
	c.TokenID = "r"
	expired := claims()
	expired.ExpiresAt = now.Unix() - 1
	expired.IssuedAt = now.Unix() - 10
	for _, tok := range []string{"", "wsg1_", strings.Repeat("a", 5000), mint(t, k, c), mint(t, k, expired), mint(t, testKey(t, "k9"), c)} {
		_, err := v.Verify(tok, now)
		n := 0
		for _, e := range all {
			if errors.Is(err, e) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%v wraps %d sentinels", err, n)
		}
	}
}

func TestConcurrent(t *testing.T) {
	k1, k2 := testKey(t, "k1"), testKey(t, "k2")
	v := NewVerifier(k1.Public())
	tok := mint(t, k1, claims())
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := v.Verify(tok, now)
				if err != nil && !errors.Is(err, ErrRevoked) && !errors.Is(err, ErrUnknownKey) {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 200 {
		switch i % 4 {
		case 0:
			v.SetKeys(k1.Public(), k2.Public())
		case 1:
			v.Revoke("tok_1", fmt.Sprint(i))
		case 2:
			v.SetRevoked(nil)
		case 3:
			v.SetKeys(k2.Public())
		}
	}
	close(stop)
	wg.Wait()
	v.SetKeys(k1.Public())
	if _, err := v.Verify(tok, now); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkVerify(b *testing.B) {
	k := testKey(b, "k1")
	v := NewVerifier(k.Public())
	tok := mint(b, k, claims())
	for b.Loop() {
		if _, err := v.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
