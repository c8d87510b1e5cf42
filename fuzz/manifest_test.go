package fuzz

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/control/release"
)

// releaseKey is a fixed test key, so that seeds and crashers replay.
func releaseKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(100 + i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

const releaseKeyID = "fuzz-release-1"

var releaseErrs = []error{release.ErrTooLarge, release.ErrMalformed, release.ErrUnknownKey, release.ErrBadSignature}

// checkManifest verifies env and checks what any answer must satisfy.
func checkManifest(t *testing.T, priv ed25519.PrivateKey, keys map[string]ed25519.PublicKey, env []byte) {
	m, err := release.Verify(env, keys)
	if err != nil {
		n := 0
		for _, e := range releaseErrs {
			if errors.Is(err, e) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error wraps %d sentinels: %v", n, err)
		}
		if !reflect.DeepEqual(m, release.Manifest{}) {
			t.Fatalf("manifest %+v with error %v", m, err)
		}
		return
	}
	if m.Product != release.Product || m.Published.IsZero() || m.Published.Location() != time.UTC || len(m.Builds) == 0 {
		t.Fatalf("accepted incomplete manifest %+v", m)
	}
	if _, err := release.ParseVersion(m.Version); err != nil {
		t.Fatalf("accepted version %q: %v", m.Version, err)
	}
	for _, b := range m.Builds {
		if err := b.Validate(); err != nil {
			t.Fatalf("accepted build %+v: %v", b, err)
		}
		if got, ok := m.Build(b.OS, b.Arch); !ok || got != b {
			t.Fatalf("Build(%q, %q) = %+v, %v; want %+v", b.OS, b.Arch, got, ok, b)
		}
	}
	again, err := release.Sign(priv, releaseKeyID, m)
	if errors.Is(err, release.ErrTooLarge) {
		// Re-encoding may grow a manifest (invalid UTF-8 becomes \ufffd)
		// beyond what one envelope holds; Sign says so.
		return
	}
	if err != nil {
		t.Fatalf("re-signing accepted manifest %+v: %v", m, err)
	}
	m2, err := release.Verify(again, keys)
	if err != nil || !reflect.DeepEqual(m2, m) {
		t.Fatalf("re-signed manifest verifies to %+v, %v\nwant %+v", m2, err, m)
	}
}

// FuzzReleaseManifest verifies arbitrary bytes as a signed release
// manifest envelope, and, with sign set, arbitrary bytes as a manifest in an
// envelope signed with the trusted key, so that the fuzzer also reaches what
// is checked after the signature. Verify never panics, every refusal wraps
// exactly one sentinel error, what is accepted is a complete manifest, and
// it re-signs to an envelope that verifies to an equal manifest.
func FuzzReleaseManifest(f *testing.F) {
	priv := releaseKey()
	keys := map[string]ed25519.PublicKey{releaseKeyID: priv.Public().(ed25519.PublicKey)}
	hash := strings.Repeat("ab", 32)
	good := release.Manifest{
		Product: "wsgrok", Version: "1.3.0-rc.1", Published: time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC),
		Builds: []release.Build{
			{OS: "linux", Arch: "amd64", URL: "wsgrok-linux-amd64", SHA256: hash, Size: 123456},
			{OS: "windows", Arch: "arm64", URL: "https://dl.example.com/wsgrok.exe?x=1", SHA256: hash, Size: 1},
		},
		Notes: "<b>notes</b> & \u2028 é",
	}
	env, err := release.Sign(priv, releaseKeyID, good)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := release.Verify(env, keys); err != nil {
		f.Fatalf("the valid seed does not verify: %v", err)
	}
	var e map[string]string
	if err := json.Unmarshal(env, &e); err != nil {
		f.Fatal(err)
	}
	body, err := base64.StdEncoding.DecodeString(e["manifest"])
	if err != nil {
		f.Fatal(err)
	}

	envelopes := [][]byte{
		env, nil, []byte("{}"), []byte("null"), []byte(`{"manifest":"","key_id":"","signature":""}`),
		env[:len(env)/2], append(env[:len(env):len(env)], "{}"...),
		[]byte(strings.Replace(string(env), releaseKeyID, "other", 1)),
		[]byte(strings.Replace(string(env), e["signature"][:8], "AAAAAAAA", 1)),
		[]byte(strings.Replace(string(env), e["manifest"][8:16], "AAAAAAAA", 1)),
	}
	for _, b := range envelopes {
		f.Add(b, false)
	}
	manifests := []string{
		string(body),
		`{"product":"wsgrok","version":"0.0.1","published":"2026-01-01T00:00:00+01:00","builds":[{"os":"linux","arch":"arm","url":"/x","sha256":"` + hash + `","size":9}]}`,
		`{"product":"wsgrok","version":"1.0.0","published":"2026-01-01T00:00:00Z","builds":[{"os":"linux","arch":"arm","url":"http://h/x","sha256":"` + hash + `","size":9,"x":1}],"extra":[1,2]}`,
		`{"product":"wsgrok","version":"1.0.0","published":"2026-01-01T00:00:00Z","builds":[{"os":"linux","arch":"arm","url":"a","sha256":"` + hash + `","size":9},{"os":"linux","arch":"arm","url":"b","sha256":"` + hash + `","size":9}]}`,
		`{"product":"wsgrok","version":"01.0.0","published":"2026-01-01T00:00:00Z","builds":[]}`,
		`{"product":"wsgrok","version":"1.0.0","published":"2026-01-01T00:00:00Z","builds":[null]}`,
		`{"product":"edge","version":"1.0.0"}`,
		`{"PRODUCT":"wsgrok","Version":"1.0.0","published":"9999-12-31T23:59:59.999999999-23:59","builds":[{"os":"linux","arch":"arm","url":"file:///x","sha256":"` + hash + `","size":9}]}`,
		"{\"product\":\"wsgrok\",\"version\":\"1.0.0\",\"published\":\"2026-01-01T00:00:00Z\",\"notes\":\"\xff\xfe\",\"builds\":[{\"os\":\"linux\",\"arch\":\"arm\",\"url\":\"a\",\"sha256\":\"" + hash + "\",\"size\":9}]}",
		"", "null", "[]", "{", `"wsgrok"`,
	}
	for _, m := range manifests {
		f.Add([]byte(m), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, sign bool) {
		env := data
		if sign {
			var err error
			if env, err = release.SignBytes(priv, releaseKeyID, data); err != nil {
				t.Fatal(err)
			}
		}
		checkManifest(t, priv, keys, env)
	})
}
