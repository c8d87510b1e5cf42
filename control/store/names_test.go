package store

import (
	"context"
	"testing"
	"time"
)

func TestReserveName(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	setClock(s, &now)
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")
	const q = 30 * 24 * time.Hour

	rn, err := s.ReserveName(ctx, a.ID, "MyApp", q)
	if err != nil {
		t.Fatal(err)
	}
	want := ReservedName{Name: "myapp", AccountID: a.ID, Created: now}
	if rn != want {
		t.Fatalf("ReserveName = %+v; want %+v", rn, want)
	}
	now = now.Add(time.Hour)
	if rn, err := s.ReserveName(ctx, a.ID, "myapp", q); err != nil || rn != want {
		t.Fatalf("reserving again = %+v, %v; want it unchanged", rn, err)
	}
	_, err = s.ReserveName(ctx, b.ID, "myApp", q)
	wantErr(t, err, ErrNameTaken)
	_, err = s.ReserveName(ctx, "nope", "other", q)
	wantErr(t, err, ErrNotFound)
	_, err = s.ReserveName(ctx, a.ID, " ", q)
	wantErr(t, err, ErrInvalid)

	if got, err := s.NameOwner(ctx, "MYAPP"); err != nil || got != want {
		t.Fatalf("NameOwner = %+v, %v; want %+v", got, err, want)
	}
	_, err = s.NameOwner(ctx, "never")
	wantErr(t, err, ErrNotFound)

	// Only the owner releases.
	wantErr(t, s.ReleaseName(ctx, b.ID, "myapp"), ErrForbidden)
	wantErr(t, s.ReleaseName(ctx, a.ID, "never"), ErrNotFound)
	if err := s.ReleaseName(ctx, a.ID, "myapp"); err != nil {
		t.Fatal(err)
	}
	released := now
	now = now.Add(time.Hour)
	if err := s.ReleaseName(ctx, a.ID, "myapp"); err != nil { // again: the quarantine does not restart
		t.Fatal(err)
	}
	owner, err := s.NameOwner(ctx, "myapp")
	if err != nil || owner.AccountID != a.ID || owner.Released == nil || !owner.Released.Equal(released) {
		t.Fatalf("NameOwner after release = %+v, %v", owner, err)
	}

	// Within the quarantine the name is nobody else's...
	now = released.Add(q - time.Nanosecond)
	_, err = s.ReserveName(ctx, b.ID, "myapp", q)
	wantErr(t, err, ErrNameTaken)
	// ...and after it, whoever asks first gets it.
	now = released.Add(q)
	rn, err = s.ReserveName(ctx, b.ID, "myapp", q)
	if err != nil || rn.AccountID != b.ID || !rn.Created.Equal(now) || rn.Released != nil {
		t.Fatalf("after the quarantine: %+v, %v", rn, err)
	}
	_, err = s.ReserveName(ctx, a.ID, "myapp", q)
	wantErr(t, err, ErrNameTaken)
	if names := must[[]ReservedName](t)(s.ReservedNames(ctx, a.ID)); len(names) != 0 {
		t.Fatalf("a still lists %+v", names)
	}
}

func TestReserveNameOwnRelease(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := mustAccount(t, s, "a@example.com")
	mustReserve(t, s, a.ID, "back")
	if err := s.ReleaseName(ctx, a.ID, "back"); err != nil {
		t.Fatal(err)
	}
	// The account that released the name takes it back at once.
	rn, err := s.ReserveName(ctx, a.ID, "back", time.Hour)
	if err != nil || rn.Released != nil || rn.AccountID != a.ID {
		t.Fatalf("taking back = %+v, %v", rn, err)
	}
}

// TestReserveNameRealClock uses the real clock and a tiny quarantine.
func TestReserveNameRealClock(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")
	const q = 50 * time.Millisecond

	mustReserve(t, s, a.ID, "tiny")
	if err := s.ReleaseName(ctx, a.ID, "tiny"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := s.ReserveName(ctx, b.ID, "tiny", q)
	if time.Since(start) < q { // a very slow machine may already be past it
		wantErr(t, err, ErrNameTaken)
	}
	time.Sleep(q)
	if _, err := s.ReserveName(ctx, b.ID, "tiny", q); err != nil {
		t.Fatal(err)
	}
}

func TestReservedNames(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")
	for _, n := range []string{"zeta", "alpha", "mid"} {
		mustReserve(t, s, a.ID, n)
	}
	mustReserve(t, s, b.ID, "bee")
	if err := s.ReleaseName(ctx, a.ID, "mid"); err != nil {
		t.Fatal(err)
	}
	names := must[[]ReservedName](t)(s.ReservedNames(ctx, a.ID))
	var got []string
	for _, n := range names {
		if n.AccountID != a.ID || (n.Released != nil) != (n.Name == "mid") {
			t.Errorf("%+v", n)
		}
		got = append(got, n.Name)
	}
	if len(got) != 3 || got[0] != "alpha" || got[1] != "mid" || got[2] != "zeta" {
		t.Fatalf("ReservedNames = %v; want alpha mid zeta", got)
	}
}

func TestNamesSince(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")
	if _, err := s.ReserveName(ctx, a.ID, "alpha", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	first, err := s.NamesSince(ctx, 0)
	if err != nil || len(first) != 1 || first[0].Name != "alpha" || first[0].Revision == 0 {
		t.Fatalf("%+v %v", first, err)
	}
	cursor := first[0].Revision
	if none, _ := s.NamesSince(ctx, cursor); len(none) != 0 {
		t.Fatalf("nothing changed, got %+v", none)
	}
	s.ReleaseName(ctx, a.ID, "alpha")
	changes, _ := s.NamesSince(ctx, cursor)
	if len(changes) != 1 || changes[0].Released == nil || changes[0].Revision <= cursor {
		t.Fatalf("release not seen: %+v", changes)
	}
	cursor = changes[0].Revision
	time.Sleep(5 * time.Millisecond)
	if _, err := s.ReserveName(ctx, b.ID, "alpha", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	changes, _ = s.NamesSince(ctx, cursor)
	if len(changes) != 1 || changes[0].AccountID != b.ID || changes[0].Released != nil {
		t.Fatalf("takeover not seen: %+v", changes)
	}
}
