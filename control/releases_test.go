package control_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wsgrok/wsgrok/agent/update"
	"github.com/wsgrok/wsgrok/control"
	"github.com/wsgrok/wsgrok/control/release"
)

// TestReleasesServedForUpdate publishes a signed release in the control
// service's releases directory and updates an executable from it the way
// `wsgrok update` does; listings and dot files are not served.
func TestReleasesServedForUpdate(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	rel := t.TempDir()
	bin := []byte("#!/bin/sh\necho wsgrok 9.0.0\n")
	sum := sha256.Sum256(bin)
	env, err := release.Sign(priv, "k1", release.Manifest{Product: release.Product, Version: "9.0.0",
		Builds: []release.Build{{OS: runtime.GOOS, Arch: runtime.GOARCH, URL: "wsgrok-9.0.0", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(bin))}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"latest.json": env, "wsgrok-9.0.0": bin, ".secret": []byte("x")} {
		if err := os.WriteFile(filepath.Join(rel, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := control.New(control.Config{DataDir: t.TempDir(), ReleasesDir: rel})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go svc.Serve(ln)
	base := "http://" + ln.Addr().String() + "/releases/"

	for _, p := range []string{"", ".secret", "../releases/.secret", "missing.json"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /releases/%s: %d, want 404", p, resp.StatusCode)
		}
	}

	exe := filepath.Join(t.TempDir(), "wsgrok")
	if err := os.WriteFile(exe, []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	u := &update.Updater{ManifestURL: base + "latest.json", Keys: map[string]ed25519.PublicKey{"k1": pub}, Current: "0.1.0", Exe: exe}
	m, err := u.Update(t.Context())
	if err != nil {
		t.Fatalf("update from the control service: %v", err)
	}
	got, _ := os.ReadFile(exe)
	if m.Version != "9.0.0" || string(got) != string(bin) {
		t.Errorf("updated to %s, binary %q", m.Version, got)
	}
}
