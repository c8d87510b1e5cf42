package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wsgrok/wsgrok/agent/update"
	"github.com/wsgrok/wsgrok/control/release"
)

// buildWsgrok builds the real wsgrok binary with a version and the
// release keys built in, as a release build would.
func buildWsgrok(t *testing.T, dir, version, keys string) string {
	t.Helper()
	out := filepath.Join(dir, "wsgrok-"+version)
	ld := "-X github.com/wsgrok/wsgrok/agent.Version=" + version +
		" -X github.com/wsgrok/wsgrok/agent/update.BuiltinKeysText=" + keys
	cmd := exec.Command("go", "build", "-ldflags", ld, "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// TestUpdateCommand updates a real installed wsgrok from a local release
// server: a good manifest replaces the binary, which then runs as the new
// version; a manifest with a bad signature or a binary with the wrong
// hash is refused with a clear message and the installed binary keeps
// working.
func TestUpdateCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wsgrok twice")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := update.FormatKeys(map[string]ed25519.PublicKey{"test-1": pub})
	dir := t.TempDir()
	oldBin := buildWsgrok(t, dir, "0.1.0", keys)
	newBin, err := os.ReadFile(buildWsgrok(t, dir, "0.2.0", keys))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(newBin)
	build := release.Build{OS: runtime.GOOS, Arch: runtime.GOARCH, URL: "wsgrok-0.2.0.bin", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(newBin))}
	good, err := release.Sign(priv, "test-1", release.Manifest{Product: release.Product, Version: "0.2.0", Builds: []release.Build{build}})
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forged, err := release.Sign(otherKey, "test-1", release.Manifest{Product: release.Product, Version: "0.2.0", Builds: []release.Build{build}})
	if err != nil {
		t.Fatal(err)
	}
	wrong := build
	wrong.SHA256 = strings.Repeat("0", 64)
	wrongHash, err := release.Sign(priv, "test-1", release.Manifest{Product: release.Product, Version: "0.2.0", Builds: []release.Build{wrong}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for path, body := range map[string][]byte{"/good/latest.json": good, "/forged/latest.json": forged, "/wrong/latest.json": wrongHash} {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	}
	for _, d := range []string{"good", "forged", "wrong"} {
		mux.HandleFunc("GET /"+d+"/wsgrok-0.2.0.bin", func(w http.ResponseWriter, r *http.Request) { w.Write(newBin) })
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	installed := filepath.Join(t.TempDir(), "wsgrok")
	b, err := os.ReadFile(oldBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(installed, b, 0o755); err != nil {
		t.Fatal(err)
	}
	wsgrok := func(args ...string) (string, error) {
		cmd := exec.Command(installed, args...)
		cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	version := func() string {
		out, err := wsgrok("version")
		if err != nil {
			t.Fatalf("wsgrok version: %v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}

	for _, c := range []struct{ dir, want string }{
		{"forged", "signature"},
		{"wrong", "SHA-256"},
	} {
		out, err := wsgrok("update", "--update-url", srv.URL+"/"+c.dir+"/latest.json")
		if err == nil || !strings.Contains(out, c.want) || !strings.Contains(out, "refusing to update") {
			t.Errorf("%s manifest: err %v, output %q: want a refusal naming the %s", c.dir, err, out, c.want)
		}
		if v := version(); v != "wsgrok 0.1.0" {
			t.Fatalf("after the %s manifest: %q, want the old binary untouched", c.dir, v)
		}
	}

	out, err := wsgrok("update", "--check", "--update-url", srv.URL+"/good/latest.json")
	if err != nil || !strings.Contains(out, "wsgrok 0.2.0 is available") {
		t.Errorf("update --check: %v %q", err, out)
	}
	out, err = wsgrok("update", "--update-url", srv.URL+"/good/latest.json")
	if err != nil || !strings.Contains(out, "0.1.0 -> 0.2.0") {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if _, err := os.Stat(installed + ".old"); err != nil {
		t.Errorf("the previous binary was not kept until the new one started: %v", err)
	}
	if v := version(); v != "wsgrok 0.2.0" {
		t.Fatalf("after the update: %q", v)
	}
	if _, err := os.Stat(installed + ".old"); !os.IsNotExist(err) {
		t.Errorf("the new binary started but %s.old is still there: %v", installed, err)
	}
	out, err = wsgrok("update", "--update-url", srv.URL+"/good/latest.json")
	if err != nil || !strings.Contains(out, "up to date") {
		t.Errorf("second update: %v %q", err, out)
	}
}
