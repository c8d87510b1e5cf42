package release_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/control/release"
)

var sentinels = []error{release.ErrTooLarge, release.ErrMalformed, release.ErrUnknownKey, release.ErrBadSignature, release.ErrInvalidVersion}

// wrapsOne fails t unless err wraps want and no other sentinel.
func wrapsOne(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	for _, e := range sentinels {
		if e != want && errors.Is(err, e) {
			t.Fatalf("error %v wraps %v too", err, e)
		}
	}
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func goodManifest() release.Manifest {
	return release.Manifest{
		Product:   "wsgrok",
		Version:   "1.2.3",
		Published: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)),
		Builds: []release.Build{
			{OS: "linux", Arch: "amd64", URL: "wsgrok-1.2.3-linux-amd64", SHA256: strings.Repeat("ab", 32), Size: 1234},
			{OS: "darwin", Arch: "arm64", URL: "https://dl.example.com/wsgrok-1.2.3-darwin-arm64", SHA256: strings.Repeat("01", 32), Size: 99},
		},
		Notes: "Fixes <things> & \"stuff\"\n",
	}
}

func TestSignVerify(t *testing.T) {
	pub, priv := newKey(t)
	keys := map[string]ed25519.PublicKey{"release-1": pub}
	m := goodManifest()
	env, err := release.Sign(priv, "release-1", m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := release.Verify(env, keys)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Published.Equal(m.Published) || got.Published.Location() != time.UTC {
		t.Fatalf("published %v, want %v in UTC", got.Published, m.Published)
	}
	m.Published = got.Published
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("verified %+v\nwant %+v", got, m)
	}
	b, ok := got.Build("darwin", "arm64")
	if !ok || b.Size != 99 {
		t.Fatalf("Build(darwin, arm64) = %+v, %v", b, ok)
	}
	if _, ok := got.Build("linux", "arm64"); ok {
		t.Fatal("found a linux/arm64 build")
	}

	// The envelope has the documented shape.
	var e map[string]string
	if err := json.Unmarshal(env, &e); err != nil || len(e) != 3 || e["key_id"] != "release-1" {
		t.Fatalf("envelope %s: %v", env, err)
	}
	body, err := base64.StdEncoding.DecodeString(e["manifest"])
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(e["signature"])
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, append([]byte("wsgrok-release-v1\x00"), body...), sig) {
		t.Fatal("signature is not over the domain and the manifest bytes")
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"product", "version", "published", "builds", "notes"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("manifest has no %q: %s", k, body)
		}
	}
}

func TestSignSetsPublished(t *testing.T) {
	pub, priv := newKey(t)
	m := goodManifest()
	m.Published = time.Time{}
	env, err := release.Sign(priv, "k", m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := release.Verify(env, map[string]ed25519.PublicKey{"k": pub})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(got.Published); d < 0 || d > time.Minute {
		t.Fatalf("published %v", got.Published)
	}
}

func TestSignRefuses(t *testing.T) {
	_, priv := newKey(t)
	if _, err := release.Sign(priv[:10], "k", goodManifest()); err == nil {
		t.Error("signed with a short key")
	}
	if _, err := release.Sign(priv, "", goodManifest()); err == nil {
		t.Error("signed without a key id")
	}
	m := goodManifest()
	m.Version = "1.2"
	if _, err := release.Sign(priv, "k", m); err == nil {
		t.Error("signed a manifest with an invalid version")
	}
	m = goodManifest()
	m.Notes = strings.Repeat("x", release.MaxEnvelope)
	if _, err := release.Sign(priv, "k", m); !errors.Is(err, release.ErrTooLarge) {
		t.Errorf("signing an oversized manifest: %v", err)
	}
}

// envelopeOf returns an envelope of raw JSON values.
func envelopeOf(manifest, keyID, sig string) []byte {
	b, _ := json.Marshal(map[string]string{"manifest": manifest, "key_id": keyID, "signature": sig})
	return b
}

func TestVerifyRefuses(t *testing.T) {
	pub, priv := newKey(t)
	_, other := newKey(t)
	keys := map[string]ed25519.PublicKey{"k": pub}
	good, err := release.Sign(priv, "k", goodManifest())
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]string
	if err := json.Unmarshal(good, &e); err != nil {
		t.Fatal(err)
	}
	body, _ := base64.StdEncoding.DecodeString(e["manifest"])
	sig, _ := base64.StdEncoding.DecodeString(e["signature"])
	b64 := base64.StdEncoding.EncodeToString

	tampered := []byte(strings.Replace(string(body), `"1.2.3"`, `"9.2.3"`, 1))
	otherSig, _ := release.SignBytes(other, "k", body)
	unsigned := envelopeOf(e["manifest"], "k", b64(ed25519.Sign(priv, body))) // no domain
	signedRaw := func(s string) []byte {
		env, err := release.SignBytes(priv, "k", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	withField := func(field, value string) []byte {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		if value == "" {
			delete(m, field)
		} else {
			m[field] = json.RawMessage(value)
		}
		b, _ := json.Marshal(m)
		return signedRaw(string(b))
	}
	unpadded := string(body)
	for len(unpadded)%3 == 0 {
		unpadded += " "
	}
	unpadded = base64.RawStdEncoding.EncodeToString([]byte(unpadded))
	build := func(b string) []byte { return withField("builds", "["+b+"]") }
	hash := strings.Repeat("0", 64)

	for _, tc := range []struct {
		name string
		env  []byte
		want error
	}{
		{"too large", append(good, make([]byte, release.MaxEnvelope)...), release.ErrTooLarge},
		{"empty", nil, release.ErrMalformed},
		{"null", []byte("null"), release.ErrMalformed},
		{"empty object", []byte("{}"), release.ErrMalformed},
		{"array", []byte("[]"), release.ErrMalformed},
		{"trailing", append(good, '}'), release.ErrMalformed},
		{"no signature", []byte(`{"manifest":"` + e["manifest"] + `","key_id":"k"}`), release.ErrMalformed},
		{"no key id", []byte(`{"manifest":"` + e["manifest"] + `","signature":"` + e["signature"] + `"}`), release.ErrMalformed},
		{"manifest not base64", envelopeOf("!!", "k", e["signature"]), release.ErrMalformed},
		{"manifest with line breaks", envelopeOf(e["manifest"][:8]+"\n"+e["manifest"][8:], "k", e["signature"]), release.ErrMalformed},
		{"manifest unpadded", envelopeOf(unpadded, "k", e["signature"]), release.ErrMalformed},
		{"empty manifest", envelopeOf("", "k", e["signature"]), release.ErrMalformed},
		{"signature not base64", envelopeOf(e["manifest"], "k", "%%"), release.ErrMalformed},
		{"unknown key", envelopeOf(e["manifest"], "k2", e["signature"]), release.ErrUnknownKey},
		{"empty key id", envelopeOf(e["manifest"], "", e["signature"]), release.ErrUnknownKey},
		{"tampered manifest", envelopeOf(b64(tampered), "k", e["signature"]), release.ErrBadSignature},
		{"other key", otherSig, release.ErrBadSignature},
		{"no domain", unsigned, release.ErrBadSignature},
		{"short signature", envelopeOf(e["manifest"], "k", b64(sig[:63])), release.ErrBadSignature},
		{"empty signature", envelopeOf(e["manifest"], "k", ""), release.ErrBadSignature},
		{"manifest not JSON", signedRaw("hello"), release.ErrMalformed},
		{"manifest null", signedRaw("null"), release.ErrMalformed},
		{"manifest trailing", signedRaw(string(body) + "{}"), release.ErrMalformed},
		{"other product", withField("product", `"wsgrok-edge"`), release.ErrMalformed},
		{"no product", withField("product", ""), release.ErrMalformed},
		{"bad version", withField("version", `"1.2"`), release.ErrMalformed},
		{"version number", withField("version", `123`), release.ErrMalformed},
		{"no published", withField("published", ""), release.ErrMalformed},
		{"bad published", withField("published", `"yesterday"`), release.ErrMalformed},
		{"no builds", withField("builds", "[]"), release.ErrMalformed},
		{"null builds", withField("builds", "null"), release.ErrMalformed},
		{"duplicate builds", build(`{"os":"linux","arch":"amd64","url":"a","sha256":"` + hash + `","size":1},{"os":"linux","arch":"amd64","url":"b","sha256":"` + hash + `","size":1}`), release.ErrMalformed},
		{"no os", build(`{"arch":"amd64","url":"a","sha256":"` + hash + `","size":1}`), release.ErrMalformed},
		{"odd arch", build(`{"os":"linux","arch":"AMD 64","url":"a","sha256":"` + hash + `","size":1}`), release.ErrMalformed},
		{"no url", build(`{"os":"linux","arch":"amd64","sha256":"` + hash + `","size":1}`), release.ErrMalformed},
		{"file url", build(`{"os":"linux","arch":"amd64","url":"file:///bin/sh","sha256":"` + hash + `","size":1}`), release.ErrMalformed},
		{"url without host", build(`{"os":"linux","arch":"amd64","url":"https:///x","sha256":"` + hash + `","size":1}`), release.ErrMalformed},
		{"short hash", build(`{"os":"linux","arch":"amd64","url":"a","sha256":"` + hash[:62] + `","size":1}`), release.ErrMalformed},
		{"upper-case hash", build(`{"os":"linux","arch":"amd64","url":"a","sha256":"` + strings.Repeat("A", 64) + `","size":1}`), release.ErrMalformed},
		{"zero size", build(`{"os":"linux","arch":"amd64","url":"a","sha256":"` + hash + `","size":0}`), release.ErrMalformed},
		{"negative size", build(`{"os":"linux","arch":"amd64","url":"a","sha256":"` + hash + `","size":-1}`), release.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := release.Verify(tc.env, keys)
			wrapsOne(t, err, tc.want)
			if !reflect.DeepEqual(m, release.Manifest{}) {
				t.Fatalf("manifest %+v with error %v", m, err)
			}
			if !strings.HasPrefix(err.Error(), "wsgrok: release: ") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
		})
	}
	_, err = release.Verify(envelopeOf(b64(tampered), "k", e["signature"]), keys)
	if !strings.Contains(err.Error(), "signature does not verify with the key built into this wsgrok: refusing to update; report this to your operator") {
		t.Errorf("bad signature says %q", err)
	}
}

// Fields a later release adds are ignored, so that old agents still update.
func TestVerifyIgnoresUnknownFields(t *testing.T) {
	pub, priv := newKey(t)
	body := `{"product":"wsgrok","version":"2.0.0","published":"2026-05-06T07:08:09+02:00","min_version":"1.0.0",` +
		`"builds":[{"os":"linux","arch":"arm64","url":"https://x.example/b","sha256":"` + strings.Repeat("f", 64) + `","size":7,"sig":"x"}]}`
	env, err := release.SignBytes(priv, "k", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	json.Unmarshal(env, &e)
	e["comment"] = "added by a later control service"
	env, _ = json.Marshal(e)
	m, err := release.Verify(env, map[string]ed25519.PublicKey{"k": pub})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "2.0.0" || len(m.Builds) != 1 || m.Builds[0].Size != 7 || m.Published.Hour() != 5 {
		t.Fatalf("verified %+v", m)
	}
}

func TestCompareVersions(t *testing.T) {
	// Each is before the next (semver.org §11's example, and more).
	order := []string{
		"0.0.0", "0.0.1", "0.1.0", "0.9.0", "0.10.0",
		"1.0.0-0", "1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
		"1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
		"1.0.1", "1.2.0", "1.10.0", "2.0.0-rc.1", "2.0.0", "10.0.0",
		"99999999999999999999999.0.0",
	}
	for i, a := range order {
		for j, b := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			got, err := release.CompareVersions(a, b)
			if err != nil || got != want {
				t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d", a, b, got, err, want)
			}
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"v1.2.3", "1.2.3", 0},
		{"1.2.3+build.5", "1.2.3", 0},
		{"1.2.3+a", "1.2.3+b", 0},
		{"1.2.3-rc.1+x", "1.2.3", -1},
		{"1.3.0", "v1.2.9", 1},
		{"1.0.0-a-b", "1.0.0-a", 1},
		{"1.0.0-A", "1.0.0-a", -1}, // ASCII order
	} {
		if got, err := release.CompareVersions(tc.a, tc.b); err != nil || got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "dev", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "1.2.3-01", "1.2.3-a..b",
		"1.2.3-a_b", "1.2.3+", "1.2.3+a..b", "-1.2.3", "1.-2.3", "1.2.3 ", " 1.2.3", "V1.2.3", "vv1.2.3",
		"1.2.x", "1.2.3-é", "1.2.3" + strings.Repeat("0", 200), "１.2.3",
	} {
		for _, pair := range [][2]string{{bad, "1.2.3"}, {"1.2.3", bad}} {
			got, err := release.CompareVersions(pair[0], pair[1])
			if !errors.Is(err, release.ErrInvalidVersion) || got != 0 {
				t.Errorf("CompareVersions(%q, %q) = %d, %v; want ErrInvalidVersion", pair[0], pair[1], got, err)
			}
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3":              "1.2.3",
		"v0.0.0":             "0.0.0",
		"1.3.0-rc.1":         "1.3.0-rc.1",
		"v2.0.0-beta.2+g1a2": "2.0.0-beta.2+g1a2",
		"1.2.3+001":          "1.2.3+001", // leading zeros are fine in build metadata
	} {
		v, err := release.ParseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", in, v.String(), err, want)
		}
	}
}
