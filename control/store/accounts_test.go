package store

import (
	"regexp"
	"testing"
	"time"
)

func TestAccounts(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()

	a, err := s.CreateAccount(ctx, Account{Email: "  Alice@Example.COM ", Name: "Alice", PasswordHash: "h1", TOTPSecret: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(a.ID) {
		t.Errorf("id %q: want 16 hex digits", a.ID)
	}
	if a.Email != "alice@example.com" || a.Created.IsZero() || a.Created.Location() != time.UTC {
		t.Errorf("created %+v", a)
	}

	got, err := s.AccountByID(ctx, a.ID)
	if err != nil || got != a {
		t.Fatalf("AccountByID = %+v, %v; want %+v", got, err, a)
	}
	got, err = s.AccountByEmail(ctx, "ALICE@example.com")
	if err != nil || got != a {
		t.Fatalf("AccountByEmail = %+v, %v; want %+v", got, err, a)
	}

	_, err = s.CreateAccount(ctx, Account{Email: "alice@EXAMPLE.com"})
	wantErr(t, err, ErrDuplicate)
	_, err = s.CreateAccount(ctx, Account{Email: " "})
	wantErr(t, err, ErrInvalid)
	_, err = s.AccountByID(ctx, "nope")
	wantErr(t, err, ErrNotFound)
	_, err = s.AccountByEmail(ctx, "bob@example.com")
	wantErr(t, err, ErrNotFound)

	b := mustAccount(t, s, "bob@example.com")
	if b.ID == a.ID {
		t.Fatal("two accounts with one id")
	}

	a.Name, a.PasswordHash, a.TOTPSecret = "Alice B.", "h2", ""
	upd := a
	upd.Email = "changed@example.com" // ignored
	if err := s.UpdateAccount(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AccountByID(ctx, a.ID); got != a {
		t.Fatalf("after update %+v; want %+v", got, a)
	}
	wantErr(t, s.UpdateAccount(ctx, Account{ID: "nope"}), ErrNotFound)
}

func TestSessions(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	setClock(s, &now)
	a := mustAccount(t, s, "a@example.com")
	b := mustAccount(t, s, "b@example.com")

	s1, err := s.CreateSession(ctx, DashboardSession{ID: "h1", AccountID: a.ID, CSRF: "c1", Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !s1.Created.Equal(now) || !s1.LastSeen.Equal(now) {
		t.Errorf("defaults %+v", s1)
	}
	if got, err := s.SessionByID(ctx, "h1"); err != nil || got != s1 {
		t.Fatalf("SessionByID = %+v, %v; want %+v", got, err, s1)
	}
	_, err = s.CreateSession(ctx, DashboardSession{ID: "h1", AccountID: a.ID, Expires: now.Add(time.Hour)})
	wantErr(t, err, ErrDuplicate)
	_, err = s.CreateSession(ctx, DashboardSession{ID: "x", AccountID: "nope", Expires: now.Add(time.Hour)})
	wantErr(t, err, ErrNotFound)
	_, err = s.CreateSession(ctx, DashboardSession{ID: "x", AccountID: a.ID})
	wantErr(t, err, ErrInvalid)

	// Sliding expiry.
	now = now.Add(50 * time.Minute)
	if err := s.TouchSession(ctx, "h1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionByID(ctx, "h1")
	if err != nil || !got.LastSeen.Equal(now) || !got.Expires.Equal(now.Add(time.Hour)) || !got.Created.Equal(s1.Created) {
		t.Fatalf("after touch %+v, %v", got, err)
	}

	for _, id := range []string{"h2", "h3"} {
		if _, err := s.CreateSession(ctx, DashboardSession{ID: id, AccountID: b.ID, Expires: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateSession(ctx, DashboardSession{ID: "h4", AccountID: a.ID, Expires: now.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	// Expired sessions are not found, cannot be touched, and are swept.
	now = now.Add(time.Minute)
	_, err = s.SessionByID(ctx, "h2")
	wantErr(t, err, ErrNotFound)
	wantErr(t, s.TouchSession(ctx, "h2", now.Add(time.Hour)), ErrNotFound)
	if n, err := s.DeleteExpiredSessions(ctx); err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2", n, err)
	}

	if err := s.DeleteSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionByID(ctx, "h1")
	wantErr(t, err, ErrNotFound)
	if err := s.DeleteSession(ctx, "h1"); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}

	if err := s.DeleteAccountSessions(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.SessionByID(ctx, "h4")
	wantErr(t, err, ErrNotFound)
}
