package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/wsgrok/wsgrok/agent/update"
	"github.com/wsgrok/wsgrok/control/release"
)

// releaseCmd is `wsgrok-control release keygen|sign`: the operator's side of
// verified agent updates. keygen makes the Ed25519 release key (the public
// half is built into agents); sign publishes binaries and a signed
// manifest into the directory served under /releases/ (--releases-dir).
func releaseCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: wsgrok-control release keygen --out KEY.pem | release sign --key KEY.pem --version V --dir DIR OS/ARCH=BINARY...")
	}
	switch args[0] {
	case "keygen":
		return releaseKeygen(args[1:], stdout)
	case "sign":
		return releaseSign(args[1:], stdout)
	}
	return fmt.Errorf("release %s: unknown; use keygen or sign", args[0])
}

func releaseKeygen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("wsgrok-control release keygen", flag.ContinueOnError)
	id := fs.String("id", "release-1", "key id, named in signed manifests")
	out := fs.String("out", "release-key.pem", "file for the private key (created, never overwritten)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cannot create %s: %w (it is never overwritten: choose another --out)", *out, err)
	}
	pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Key-Id": *id}, Bytes: der})
	if err := f.Close(); err != nil {
		return err
	}
	keys := update.FormatKeys(map[string]ed25519.PublicKey{*id: pub})
	fmt.Fprintf(stdout, "Release key %s written to %s (keep it secret and offline).\n", *id, *out)
	fmt.Fprintf(stdout, "Build agents that trust it with:\n  go build -ldflags \"-X github.com/wsgrok/wsgrok/agent/update.BuiltinKeysText=%s\" ./agent/cmd/wsgrok\n", keys)
	return nil
}

func releaseSign(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("wsgrok-control release sign", flag.ContinueOnError)
	keyFile := fs.String("key", "release-key.pem", "private release key from `release keygen`")
	version := fs.String("version", "", "the release's version, MAJOR.MINOR.PATCH")
	dir := fs.String("dir", "releases", "the --releases-dir of wsgrok-control: binaries and latest.json go there")
	notes := fs.String("notes", "", "release notes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || fs.NArg() == 0 {
		return errors.New("give --version and at least one OS/ARCH=BINARY, e.g. linux/amd64=bin/wsgrok")
	}
	id, priv, err := readReleaseKey(*keyFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	m := release.Manifest{Product: release.Product, Version: *version, Notes: *notes}
	for _, arg := range fs.Args() {
		plat, path, ok := strings.Cut(arg, "=")
		goos, goarch, ok2 := strings.Cut(plat, "/")
		if !ok || !ok2 || goos == "" || goarch == "" || path == "" {
			return fmt.Errorf("%q: give binaries as OS/ARCH=PATH, e.g. linux/amd64=bin/wsgrok", arg)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("wsgrok-%s-%s-%s", *version, goos, goarch)
		if goos == "windows" {
			name += ".exe"
		}
		if err := os.WriteFile(filepath.Join(*dir, name), b, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m.Builds = append(m.Builds, release.Build{OS: goos, Arch: goarch, URL: name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))})
	}
	env, err := release.Sign(priv, id, m)
	if err != nil {
		return err
	}
	// The manifest goes last and by rename, so that agents never see one
	// that names binaries not yet in place.
	tmp := filepath.Join(*dir, ".latest.json.tmp")
	if err := os.WriteFile(tmp, env, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(*dir, "latest.json")); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Signed wsgrok %s (%d builds) with key %s into %s/latest.json\n", *version, len(m.Builds), id, *dir)
	return nil
}

func readReleaseKey(path string) (string, ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" || blk.Headers["Key-Id"] == "" {
		return "", nil, fmt.Errorf("%s is not a release key written by `wsgrok-control release keygen`", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	priv, ok := k.(ed25519.PrivateKey)
	if err != nil || !ok {
		return "", nil, fmt.Errorf("%s does not hold an Ed25519 private key", path)
	}
	return blk.Headers["Key-Id"], priv, nil
}
