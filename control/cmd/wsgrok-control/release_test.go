package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"github.com/wsgrok/wsgrok/agent/update"
)

// TestReleaseKeygenSignUpdate is the operator's path end to end: make a
// release key, sign a binary into a releases directory, and update an
// executable from it with the key an agent would have built in. A second
// keygen never overwrites the key, and a manifest signed by another key is
// refused.
func TestReleaseKeygenSignUpdate(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"release", "keygen", "--id", "rel-1", "--out", key}, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`BuiltinKeysText=(\S+)"`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("keygen printed no key text: %s", out.String())
	}
	keys, err := update.ParseKeys(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"release", "keygen", "--out", key}, &out); err == nil {
		t.Fatal("keygen overwrote an existing key")
	}

	bin := filepath.Join(dir, "wsgrok-new")
	os.WriteFile(bin, []byte("#!/bin/sh\necho new\n"), 0o755)
	rel := filepath.Join(dir, "releases")
	plat := runtime.GOOS + "/" + runtime.GOARCH + "=" + bin
	if err := run(t.Context(), []string{"release", "sign", "--key", key, "--version", "2.0.0", "--dir", rel, plat}, &out); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(rel)))
	defer srv.Close()
	exe := filepath.Join(dir, "wsgrok")
	os.WriteFile(exe, []byte("old"), 0o755)
	u := &update.Updater{ManifestURL: srv.URL + "/latest.json", Keys: keys, Current: "1.0.0", Exe: exe}
	if _, err := u.Update(t.Context()); err != nil {
		t.Fatalf("update from the signed release: %v", err)
	}
	if b, _ := os.ReadFile(exe); string(b) != "#!/bin/sh\necho new\n" {
		t.Fatalf("binary after update: %q", b)
	}

	other := filepath.Join(dir, "other.pem")
	if err := run(t.Context(), []string{"release", "keygen", "--id", "rel-1", "--out", other}, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"release", "sign", "--key", other, "--version", "3.0.0", "--dir", rel, plat}, &out); err != nil {
		t.Fatal(err)
	}
	u.Current = "2.0.0"
	if _, err := u.Update(t.Context()); err == nil {
		t.Fatal("a manifest signed by another key was accepted")
	}
}
