package update

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Where there are no hard links, the old binary is moved aside and, if the
// new one cannot be put in place, moved back.
func TestReplaceWithoutHardLinks(t *testing.T) {
	defer func(l func(string, string) error) { link = l }(link)
	link = func(string, string) error { return errors.New("no hard links here") }

	dir := t.TempDir()
	exe, tmp := filepath.Join(dir, "wsgrok"), filepath.Join(dir, ".wsgrok.update-1")
	writeFile(t, exe, "old")
	writeFile(t, tmp, "new")
	writeFile(t, OldPath(exe), "older")
	if err := replace(exe, tmp); err != nil {
		t.Fatal(err)
	}
	if content(t, exe) != "new" || content(t, OldPath(exe)) != "old" {
		t.Fatalf("exe %q, old %q", content(t, exe), content(t, OldPath(exe)))
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the download is still there: %v", err)
	}

	// The new file is gone: the rename fails, and the old binary is put back.
	os.Remove(OldPath(exe))
	if err := replace(exe, tmp); err == nil {
		t.Fatal("replaced with a missing file")
	}
	if content(t, exe) != "new" {
		t.Fatalf("exe %q after a failed replace", content(t, exe))
	}
	if _, err := os.Stat(OldPath(exe)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed replace left %s: %v", OldPath(exe), err)
	}
}

// With hard links, a failed rename leaves exe as it was and no .old.
func TestReplaceFails(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "wsgrok")
	writeFile(t, exe, "old")
	if err := replace(exe, filepath.Join(dir, "missing")); err == nil {
		t.Fatal("replaced with a missing file")
	}
	if content(t, exe) != "old" {
		t.Fatalf("exe %q after a failed replace", content(t, exe))
	}
	if _, err := os.Stat(OldPath(exe)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed replace left %s: %v", OldPath(exe), err)
	}
}
