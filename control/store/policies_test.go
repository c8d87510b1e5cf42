package store

import (
	"reflect"
	"testing"
	"time"
)

func testPolicy(endpoint string) Policy {
	return Policy{
		Endpoint:   endpoint,
		AllowCIDRs: []string{"10.0.0.0/8", "2001:db8::/32"},
		DenyCIDRs:  []string{"10.6.6.0/24"},
		BlockPaths: []string{"/admin", "/.git"},
		BasicAuth:  []BasicAuthUser{{User: "ann", PasswordHash: "$argon2id$x"}},
		RateLimit:  600,
	}
}

func TestPolicies(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	setClock(s, &now)
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")
	mustReserve(t, s, a.ID, "shop")
	mustReserve(t, s, a.ID, "blog")
	mustReserve(t, s, b.ID, "bees")

	p := testPolicy("SHOP")
	p.AccountID = b.ID // ignored: the account argument decides
	put, err := s.PutPolicy(ctx, a.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	if put.Endpoint != "shop" || put.AccountID != a.ID || put.Revision <= 0 || !put.Updated.Equal(now) || put.Deleted {
		t.Fatalf("PutPolicy = %+v", put)
	}
	if got, err := s.Policy(ctx, a.ID, "Shop"); err != nil || !reflect.DeepEqual(got, put) {
		t.Fatalf("Policy = %+v, %v; want %+v", got, err, put)
	}

	// Only the name's owner.
	_, err = s.PutPolicy(ctx, b.ID, testPolicy("shop"))
	wantErr(t, err, ErrForbidden)
	_, err = s.PutPolicy(ctx, a.ID, testPolicy("unreserved"))
	wantErr(t, err, ErrNotFound)
	_, err = s.Policy(ctx, b.ID, "shop")
	wantErr(t, err, ErrForbidden)
	wantErr(t, s.DeletePolicy(ctx, b.ID, "shop"), ErrForbidden)
	_, err = s.Policy(ctx, a.ID, "blog")
	wantErr(t, err, ErrNotFound)
	bad := testPolicy("blog")
	bad.RateLimit = -1
	_, err = s.PutPolicy(ctx, a.ID, bad)
	wantErr(t, err, ErrInvalid)

	// Replacing, with empty lists.
	now = now.Add(time.Minute)
	put2, err := s.PutPolicy(ctx, a.ID, Policy{Endpoint: "shop", AllowCIDRs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if put2.Revision <= put.Revision {
		t.Fatalf("revision %d after %d", put2.Revision, put.Revision)
	}
	if got, err := s.Policy(ctx, a.ID, "shop"); err != nil || !reflect.DeepEqual(got, put2) || got.AllowCIDRs != nil {
		t.Fatalf("replaced policy = %+v, %v; want %+v", got, err, put2)
	}

	blog := must[Policy](t)(s.PutPolicy(ctx, a.ID, testPolicy("blog")))
	bees := must[Policy](t)(s.PutPolicy(ctx, b.ID, testPolicy("bees")))
	if got := must[[]Policy](t)(s.Policies(ctx, a.ID)); !reflect.DeepEqual(got, []Policy{blog, put2}) {
		t.Fatalf("Policies(a) = %+v", got)
	}
	if got := must[[]Policy](t)(s.Policies(ctx, b.ID)); !reflect.DeepEqual(got, []Policy{bees}) {
		t.Fatalf("Policies(b) = %+v", got)
	}

	if err := s.DeletePolicy(ctx, a.ID, "blog"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeletePolicy(ctx, a.ID, "blog"), ErrNotFound)
	_, err = s.Policy(ctx, a.ID, "blog")
	wantErr(t, err, ErrNotFound)
	if got := must[[]Policy](t)(s.Policies(ctx, a.ID)); !reflect.DeepEqual(got, []Policy{put2}) {
		t.Fatalf("Policies(a) after delete = %+v", got)
	}
}

// TestPoliciesSince is an edge's sync: each poll returns exactly the
// changes after its cursor, deletions included, in revision order.
func TestPoliciesSince(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")
	for _, n := range []string{"one", "two"} {
		mustReserve(t, s, a.ID, n)
	}
	mustReserve(t, s, b.ID, "three")

	var cursor int64
	poll := func(want ...string) []Policy {
		t.Helper()
		got := must[[]Policy](t)(s.PoliciesSince(ctx, cursor))
		var names []string
		for i, p := range got {
			names = append(names, p.Endpoint)
			if p.Revision <= cursor || (i > 0 && p.Revision <= got[i-1].Revision) {
				t.Fatalf("revisions not increasing past %d: %+v", cursor, got)
			}
		}
		if !reflect.DeepEqual(names, want) && (len(names) != 0 || len(want) != 0) {
			t.Fatalf("PoliciesSince(%d) = %v; want %v", cursor, names, want)
		}
		if len(got) > 0 {
			cursor = got[len(got)-1].Revision
		}
		return got
	}

	poll()
	must[Policy](t)(s.PutPolicy(ctx, a.ID, testPolicy("one")))
	must[Policy](t)(s.PutPolicy(ctx, b.ID, testPolicy("three")))
	must[Policy](t)(s.PutPolicy(ctx, a.ID, testPolicy("two")))
	poll("one", "three", "two")
	poll()

	// A revocation takes a revision from the same sequence in between:
	// cursors of different kinds never collide.
	tok := must[Authtoken](t)(s.CreateAuthtoken(ctx, Authtoken{AccountID: a.ID}))
	if err := s.RevokeAuthtoken(ctx, a.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	must[Policy](t)(s.PutPolicy(ctx, a.ID, testPolicy("one")))
	if err := s.DeletePolicy(ctx, b.ID, "three"); err != nil {
		t.Fatal(err)
	}
	got := poll("one", "three")
	if got[0].Deleted || !got[1].Deleted {
		t.Fatalf("deletion flags %+v", got)
	}
	if p := got[1]; p.AllowCIDRs != nil || p.BasicAuth != nil || p.RateLimit != 0 {
		t.Errorf("a tombstone keeps its rules: %+v", p)
	}

	// Releasing a name deletes its policy, for the edges too.
	if err := s.ReleaseName(ctx, a.ID, "two"); err != nil {
		t.Fatal(err)
	}
	if got := poll("two"); !got[0].Deleted {
		t.Fatalf("policy of a released name: %+v", got)
	}
	_, err := s.PutPolicy(ctx, a.ID, testPolicy("two"))
	wantErr(t, err, ErrNotFound)
	if got := must[[]Policy](t)(s.Policies(ctx, a.ID)); len(got) != 1 || got[0].Endpoint != "one" {
		t.Fatalf("Policies after release = %+v", got)
	}
}

// TestPolicyNewOwner checks that a name's next owner starts without the
// previous owner's policy and can set its own.
func TestPolicyNewOwner(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")
	mustReserve(t, s, a.ID, "handover")
	must[Policy](t)(s.PutPolicy(ctx, a.ID, testPolicy("handover")))
	if err := s.ReleaseName(ctx, a.ID, "handover"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveName(ctx, b.ID, "handover", 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Policy(ctx, b.ID, "handover")
	wantErr(t, err, ErrNotFound)
	p := must[Policy](t)(s.PutPolicy(ctx, b.ID, Policy{Endpoint: "handover", RateLimit: 5}))
	if got := must[[]Policy](t)(s.Policies(ctx, b.ID)); !reflect.DeepEqual(got, []Policy{p}) {
		t.Fatalf("Policies(b) = %+v", got)
	}
	if got := must[[]Policy](t)(s.Policies(ctx, a.ID)); len(got) != 0 {
		t.Fatalf("Policies(a) = %+v", got)
	}
}
