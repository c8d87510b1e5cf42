package store

import (
	"bytes"
	"crypto/ed25519"
	"reflect"
	"testing"
	"time"
)

func TestAuthtokens(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	setClock(s, &now)
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")

	exp := now.Add(24 * time.Hour)
	t1, err := s.CreateAuthtoken(ctx, Authtoken{ID: "tok_1", AccountID: a.ID, Name: "laptop", Fingerprint: "0badcafe", Expires: &exp})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	t2, err := s.CreateAuthtoken(ctx, Authtoken{AccountID: a.ID, Name: "ci", LastUsed: &now, Revoked: &now})
	if err != nil {
		t.Fatal(err)
	}
	if t2.ID == "" || t2.LastUsed != nil || t2.Revoked != nil {
		t.Errorf("new token %+v: want an id, unused, valid", t2)
	}
	tb := must[Authtoken](t)(s.CreateAuthtoken(ctx, Authtoken{ID: "tok_b", AccountID: b.ID}))

	_, err = s.CreateAuthtoken(ctx, Authtoken{ID: "tok_1", AccountID: b.ID})
	wantErr(t, err, ErrDuplicate)
	_, err = s.CreateAuthtoken(ctx, Authtoken{ID: "tok_x", AccountID: "nope"})
	wantErr(t, err, ErrNotFound)
	_, err = s.CreateAuthtoken(ctx, Authtoken{ID: "tok_x"})
	wantErr(t, err, ErrInvalid)

	if got, err := s.AuthtokenByID(ctx, "tok_1"); err != nil || !reflect.DeepEqual(got, t1) {
		t.Fatalf("AuthtokenByID = %+v, %v; want %+v", got, err, t1)
	}
	_, err = s.AuthtokenByID(ctx, "nope")
	wantErr(t, err, ErrNotFound)
	if got := must[[]Authtoken](t)(s.ListAuthtokens(ctx, a.ID)); !reflect.DeepEqual(got, []Authtoken{t1, t2}) {
		t.Fatalf("ListAuthtokens = %+v; want %+v", got, []Authtoken{t1, t2})
	}

	// LastUsed only moves forward.
	used := now.Add(time.Hour)
	for _, at := range []time.Time{used, now} {
		if err := s.MarkAuthtokenUsed(ctx, "tok_1", at); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.AuthtokenByID(ctx, "tok_1"); got.LastUsed == nil || !got.LastUsed.Equal(used) {
		t.Fatalf("LastUsed %v; want %v", got.LastUsed, used)
	}
	wantErr(t, s.MarkAuthtokenUsed(ctx, "nope", now), ErrNotFound)

	// Only the owner revokes.
	wantErr(t, s.RevokeAuthtoken(ctx, b.ID, "tok_1"), ErrForbidden)
	wantErr(t, s.RevokeAuthtoken(ctx, a.ID, "nope"), ErrNotFound)
	if revs := must[[]Revocation](t)(s.RevokedTokenIDs(ctx, 0)); len(revs) != 0 {
		t.Fatalf("revocations before any: %+v", revs)
	}

	now = now.Add(time.Minute)
	if err := s.RevokeAuthtoken(ctx, a.ID, "tok_1"); err != nil {
		t.Fatal(err)
	}
	revokedAt := now
	now = now.Add(time.Minute)
	if err := s.RevokeAuthtoken(ctx, a.ID, "tok_1"); err != nil { // again: nothing changes
		t.Fatal(err)
	}
	got, _ := s.AuthtokenByID(ctx, "tok_1")
	if got.Revoked == nil || !got.Revoked.Equal(revokedAt) {
		t.Fatalf("Revoked %v; want %v", got.Revoked, revokedAt)
	}

	revs := must[[]Revocation](t)(s.RevokedTokenIDs(ctx, 0))
	if len(revs) != 1 || revs[0].TokenID != "tok_1" || revs[0].AccountID != a.ID ||
		!revs[0].Revoked.Equal(revokedAt) || revs[0].Expires == nil || !revs[0].Expires.Equal(exp) || revs[0].Revision <= 0 {
		t.Fatalf("revocations %+v", revs)
	}
	cursor := revs[0].Revision
	if revs := must[[]Revocation](t)(s.RevokedTokenIDs(ctx, cursor)); len(revs) != 0 {
		t.Fatalf("revocations after the cursor, with no new one: %+v", revs)
	}

	// An edge polling with its cursor sees each new revocation once, in
	// order, whoever's it is.
	for _, rv := range []struct{ acct, id string }{{b.ID, tb.ID}, {a.ID, t2.ID}} {
		if err := s.RevokeAuthtoken(ctx, rv.acct, rv.id); err != nil {
			t.Fatal(err)
		}
	}
	revs = must[[]Revocation](t)(s.RevokedTokenIDs(ctx, cursor))
	if len(revs) != 2 || revs[0].TokenID != tb.ID || revs[1].TokenID != t2.ID ||
		revs[0].Revision <= cursor || revs[1].Revision <= revs[0].Revision || revs[1].Expires != nil {
		t.Fatalf("revocations since %d: %+v", cursor, revs)
	}
	if all := must[[]Revocation](t)(s.RevokedTokenIDs(ctx, 0)); len(all) != 3 {
		t.Fatalf("all revocations: %+v", all)
	}
}

func TestAPIKeys(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")

	k1 := must[APIKey](t)(s.CreateAPIKey(ctx, APIKey{AccountID: a.ID, Name: "deploy", Hash: "sha256:1"}))
	if k1.ID == "" || k1.Created.IsZero() || k1.Revoked != nil {
		t.Fatalf("created %+v", k1)
	}
	k2 := must[APIKey](t)(s.CreateAPIKey(ctx, APIKey{ID: "key2", AccountID: a.ID, Hash: "sha256:2"}))
	_, err := s.CreateAPIKey(ctx, APIKey{AccountID: b.ID, Hash: "sha256:1"})
	wantErr(t, err, ErrDuplicate)
	_, err = s.CreateAPIKey(ctx, APIKey{AccountID: b.ID})
	wantErr(t, err, ErrInvalid)

	if got, err := s.APIKeyByHash(ctx, "sha256:1"); err != nil || !reflect.DeepEqual(got, k1) {
		t.Fatalf("APIKeyByHash = %+v, %v; want %+v", got, err, k1)
	}
	_, err = s.APIKeyByHash(ctx, "sha256:nope")
	wantErr(t, err, ErrNotFound)

	wantErr(t, s.RevokeAPIKey(ctx, b.ID, k1.ID), ErrForbidden)
	wantErr(t, s.RevokeAPIKey(ctx, a.ID, "nope"), ErrNotFound)
	if err := s.RevokeAPIKey(ctx, a.ID, k1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, a.ID, k1.ID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	_, err = s.APIKeyByHash(ctx, "sha256:1")
	wantErr(t, err, ErrNotFound) // a revoked key no longer authenticates

	list := must[[]APIKey](t)(s.ListAPIKeys(ctx, a.ID))
	if len(list) != 2 || list[0].ID != k1.ID || list[0].Revoked == nil || !reflect.DeepEqual(list[1], k2) {
		t.Fatalf("ListAPIKeys = %+v", list)
	}
	if list := must[[]APIKey](t)(s.ListAPIKeys(ctx, b.ID)); len(list) != 0 {
		t.Fatalf("b's keys: %+v", list)
	}
}

func TestSigningKeys(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	setClock(s, &now)

	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k1 := must[SigningKey](t)(s.CreateSigningKey(ctx, SigningKey{ID: "k1", Private: priv}))
	now = now.Add(time.Hour)
	k2 := must[SigningKey](t)(s.CreateSigningKey(ctx, SigningKey{ID: "k2", Private: priv.Seed()}))
	_, err = s.CreateSigningKey(ctx, SigningKey{ID: "k1", Private: priv})
	wantErr(t, err, ErrDuplicate)
	_, err = s.CreateSigningKey(ctx, SigningKey{ID: "k3"})
	wantErr(t, err, ErrInvalid)

	now = now.Add(time.Hour)
	if err := s.RetireSigningKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	retired := now
	now = now.Add(time.Hour)
	if err := s.RetireSigningKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.RetireSigningKey(ctx, "nope"), ErrNotFound)

	keys := must[[]SigningKey](t)(s.SigningKeys(ctx))
	if len(keys) != 2 || keys[0].ID != "k1" || keys[1].ID != "k2" {
		t.Fatalf("SigningKeys = %v", keys)
	}
	if !bytes.Equal(keys[0].Private, priv) || !keys[0].Created.Equal(k1.Created) ||
		keys[0].Retired == nil || !keys[0].Retired.Equal(retired) {
		t.Errorf("k1 read back as %+v", keys[0])
	}
	if !reflect.DeepEqual(keys[1], k2) {
		t.Errorf("k2 read back as %+v; want %+v", keys[1], k2)
	}
}
