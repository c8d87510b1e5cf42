package store

import (
	"errors"
	"testing"
	"time"
)

// openTest opens a store in a fresh directory, closed at the end of the
// test, and returns it with its directory.
func openTest(t testing.TB) (*SQLite, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, dir
}

// setClock makes the store's clock read *now, which the test may move.
func setClock(s *SQLite, now *time.Time) {
	s.now = func() time.Time { return *now }
}

func mustAccount(t testing.TB, s *SQLite, email string) Account {
	t.Helper()
	a, err := s.CreateAccount(t.Context(), Account{Email: email, Name: email, PasswordHash: "hash:" + email})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustReserve(t testing.TB, s *SQLite, accountID, name string) ReservedName {
	t.Helper()
	rn, err := s.ReserveName(t.Context(), accountID, name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return rn
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v; want %v", err, want)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
