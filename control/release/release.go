// Package release is the format of wsgrok release manifests and their
// signatures, shared by the control service, which signs and serves them,
// and the agent, which verifies them before it replaces itself
// (`wsgrok update`).
//
// A manifest says which version is the latest release and where each
// platform's binary is, with its size and SHA-256:
//
//	{"product":"wsgrok","version":"1.2.3","published":"2026-01-02T03:04:05Z",
//	 "builds":[{"os":"linux","arch":"amd64","url":"wsgrok-1.2.3-linux-amd64",
//	            "sha256":"<64 hex digits>","size":12345678}],
//	 "notes":"..."}
//
// A build's url is absolute (http or https) or relative to the URL the
// manifest was fetched from.
//
// It is served inside a signed envelope, e.g. at /releases/wsgrok/latest.json:
//
//	{"manifest":"<base64 of the manifest's bytes>","key_id":"release-1",
//	 "signature":"<base64 of the Ed25519 signature>"}
//
// The signature is over "wsgrok-release-v1\x00" followed by the exact bytes
// of the manifest, so that no JSON needs to be canonicalised and no other
// message signed with the same key can pass for a manifest. Both base64
// fields are standard base64 with padding. Unknown fields of the manifest and
// envelope are ignored, so that later releases can add some and older agents
// still update.
package release

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

const (
	// Product is the only product a manifest may be for.
	Product = "wsgrok"
	// MaxEnvelope is the largest envelope Verify reads; a larger one is
	// refused before any decoding.
	MaxEnvelope = 1 << 20

	// domain is signed before the manifest (domain separation).
	domain = "wsgrok-release-v1\x00"
)

// Errors that Verify returns. Each error it returns wraps exactly one of
// them; test with errors.Is. ErrInvalidVersion is CompareVersions' and
// ParseVersion's.
var (
	ErrTooLarge       = errors.New("wsgrok: release: the release manifest is larger than 1 MiB: refusing it; check that the update URL is that of a wsgrok release manifest")
	ErrMalformed      = errors.New("wsgrok: release: the release manifest is malformed: refusing to update; check the update URL, or report this to your operator")
	ErrUnknownKey     = errors.New("wsgrok: release: the release manifest is signed with a key this wsgrok does not know: refusing to update; install the new release by hand, or report this to your operator")
	ErrBadSignature   = errors.New("wsgrok: release: the release manifest's signature does not verify with the key built into this wsgrok: refusing to update; report this to your operator")
	ErrInvalidVersion = errors.New("wsgrok: release: not a version of the form MAJOR.MINOR.PATCH[-PRERELEASE]")
)

// Manifest describes one release.
type Manifest struct {
	Product   string    `json:"product"`   // always Product
	Version   string    `json:"version"`   // MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]
	Published time.Time `json:"published"` // RFC 3339; Verify returns it in UTC
	Builds    []Build   `json:"builds"`    // at least one, one per OS and architecture
	Notes     string    `json:"notes,omitempty"`
}

// Build is the binary of a release for one platform.
type Build struct {
	OS     string `json:"os"`     // GOOS: linux, darwin, windows...
	Arch   string `json:"arch"`   // GOARCH: amd64, arm64...
	URL    string `json:"url"`    // absolute http(s) URL, or relative to the manifest's URL
	SHA256 string `json:"sha256"` // 64 lower-case hex digits
	Size   int64  `json:"size"`   // octets, > 0
}

// Build returns the build of m for the platform os/arch.
func (m Manifest) Build(os, arch string) (Build, bool) {
	for _, b := range m.Builds {
		if b.OS == os && b.Arch == arch {
			return b, true
		}
	}
	return Build{}, false
}

// check reports what makes m unacceptable, or "".
func (m *Manifest) check() string {
	if m.Product != Product {
		return fmt.Sprintf("for product %.64q, not %q", m.Product, Product)
	}
	if _, err := ParseVersion(m.Version); err != nil {
		return fmt.Sprintf("version %.64q is not MAJOR.MINOR.PATCH[-PRERELEASE]", m.Version)
	}
	if m.Published.IsZero() {
		return "no publication time"
	}
	if len(m.Builds) == 0 {
		return "no builds"
	}
	seen := make(map[[2]string]bool, len(m.Builds))
	for i, b := range m.Builds {
		if why := b.check(); why != "" {
			return fmt.Sprintf("build %d: %s", i, why)
		}
		p := [2]string{b.OS, b.Arch}
		if seen[p] {
			return fmt.Sprintf("two builds for %s/%s", b.OS, b.Arch)
		}
		seen[p] = true
	}
	return ""
}

// Validate returns an error wrapping ErrMalformed if b is not a build Verify
// would accept (a valid manifest's builds all are).
func (b Build) Validate() error {
	if why := b.check(); why != "" {
		return malformed(why)
	}
	return nil
}

// check reports what makes b unacceptable, or "".
func (b Build) check() string {
	switch {
	case !isName(b.OS):
		return fmt.Sprintf("os %.32q is not a GOOS", b.OS)
	case !isName(b.Arch):
		return fmt.Sprintf("arch %.32q is not a GOARCH", b.Arch)
	case len(b.SHA256) != 64 || !isLowerHex(b.SHA256):
		return "sha256 is not 64 lower-case hex digits"
	case b.Size <= 0:
		return "size is not positive"
	case b.URL == "":
		return "no url"
	}
	u, err := url.Parse(b.URL)
	if err != nil {
		return "url does not parse"
	}
	if u.IsAbs() && u.Scheme != "http" && u.Scheme != "https" {
		return "url is neither http nor https"
	}
	if u.IsAbs() && u.Host == "" {
		return "url has no host"
	}
	if u.Scheme == "" && u.Opaque == "" && u.Host == "" && u.Path == "" {
		return "url has no path"
	}
	return ""
}

// envelope is what is served.
type envelope struct {
	Manifest  string `json:"manifest"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

var b64 = base64.StdEncoding.Strict()

// Sign returns the envelope of m signed with priv, named keyID. It sets
// m.Published to the current time (to the second) if it is zero, and refuses
// a manifest that Verify would refuse.
func Sign(priv ed25519.PrivateKey, keyID string, m Manifest) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("wsgrok: release: sign: not an Ed25519 private key")
	}
	if keyID == "" {
		return nil, errors.New("wsgrok: release: sign: a key needs an id")
	}
	if m.Published.IsZero() {
		m.Published = time.Now().UTC().Truncate(time.Second)
	}
	if why := m.check(); why != "" {
		return nil, fmt.Errorf("wsgrok: release: sign: %s", why)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // notes are text; the manifest is never embedded in HTML
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("wsgrok: release: sign: %w", err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	env, err := SignBytes(priv, keyID, body)
	if err != nil {
		return nil, err
	}
	if len(env) > MaxEnvelope {
		return nil, fmt.Errorf("wsgrok: release: sign: %d bytes: %w", len(env), ErrTooLarge)
	}
	return env, nil
}

// SignBytes returns the envelope of the manifest bytes body signed with
// priv, named keyID, without checking body. It is for tests and tools that
// need an envelope Verify refuses; use Sign.
func SignBytes(priv ed25519.PrivateKey, keyID string, body []byte) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("wsgrok: release: sign: not an Ed25519 private key")
	}
	env, err := json.Marshal(envelope{
		Manifest:  b64.EncodeToString(body),
		KeyID:     keyID,
		Signature: b64.EncodeToString(ed25519.Sign(priv, signed(body))),
	})
	if err != nil {
		return nil, fmt.Errorf("wsgrok: release: sign: %w", err)
	}
	return append(env, '\n'), nil
}

// signed returns the message the signature is over.
func signed(body []byte) []byte {
	return append([]byte(domain), body...)
}

// Verify returns the manifest in envelope if it is signed by one of keys
// (by key id) and is a valid manifest. Otherwise its error wraps exactly one
// of the Err variables. Nothing of the manifest is interpreted before its
// signature is verified.
func Verify(envelope []byte, keys map[string]ed25519.PublicKey) (Manifest, error) {
	if len(envelope) > MaxEnvelope {
		return Manifest{}, ErrTooLarge
	}
	var env struct {
		Manifest  *string `json:"manifest"`
		KeyID     *string `json:"key_id"`
		Signature *string `json:"signature"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return Manifest{}, malformed("not a JSON signed envelope")
	}
	if env.Manifest == nil || env.KeyID == nil || env.Signature == nil {
		return Manifest{}, malformed("the envelope lacks manifest, key_id or signature")
	}
	if !isBase64(*env.Manifest) || !isBase64(*env.Signature) {
		return Manifest{}, malformed("not base64")
	}
	body, err := b64.DecodeString(*env.Manifest)
	if err != nil || len(body) == 0 {
		return Manifest{}, malformed("manifest is not base64")
	}
	sig, err := b64.DecodeString(*env.Signature)
	if err != nil {
		return Manifest{}, malformed("signature is not base64")
	}
	pub, ok := keys[*env.KeyID]
	if !ok || len(pub) != ed25519.PublicKeySize {
		kid := *env.KeyID
		if len(kid) > 64 {
			kid = kid[:64] + "..."
		}
		return Manifest{}, fmt.Errorf("%w (key %q)", ErrUnknownKey, kid)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, signed(body), sig) {
		return Manifest{}, ErrBadSignature
	}

	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return Manifest{}, malformed("manifest is not valid JSON of a manifest")
	}
	if why := m.check(); why != "" {
		return Manifest{}, malformed(why)
	}
	m.Published = m.Published.UTC()
	return m, nil
}

func malformed(why string) error {
	return fmt.Errorf("%w (%s)", ErrMalformed, why)
}

// isBase64 reports whether s holds only standard base64 characters, since
// the decoder would skip line breaks.
func isBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isName reports whether s looks like a GOOS or GOARCH.
func isName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Version is a parsed MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] version.
// Numbers are kept as decimal strings, so that no version overflows.
type Version struct {
	Major, Minor, Patch string
	Pre                 []string // dot-separated pre-release identifiers; nil for a release
	Build               string   // build metadata, ignored in comparisons
}

// maxVersion is the longest version string accepted.
const maxVersion = 128

// ParseVersion parses a semantic version ("1.2.3", "1.3.0-rc.1",
// "v1.2.3+abc"): a leading "v" is allowed, numbers have no leading zeros,
// pre-release identifiers are [0-9A-Za-z-]+ (numeric ones without leading
// zeros). Its error wraps ErrInvalidVersion.
func ParseVersion(s string) (Version, error) {
	bad := func(why string) (Version, error) {
		return Version{}, fmt.Errorf("%w: %.64q: %s", ErrInvalidVersion, s, why)
	}
	if len(s) > maxVersion {
		return bad("too long")
	}
	rest := strings.TrimPrefix(s, "v")
	var v Version
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		v.Build = rest[i+1:]
		rest = rest[:i]
		if !validIdents(v.Build, false) {
			return bad("build metadata is not dot-separated [0-9A-Za-z-]+")
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		rest = rest[:i]
		if !validIdents(pre, true) {
			return bad("pre-release is not dot-separated [0-9A-Za-z-]+ without leading zeros")
		}
		v.Pre = strings.Split(pre, ".")
	}
	nums := strings.Split(rest, ".")
	if len(nums) != 3 {
		return bad("not MAJOR.MINOR.PATCH")
	}
	for _, n := range nums {
		if !isNumber(n) {
			return bad("MAJOR, MINOR and PATCH must be numbers without leading zeros")
		}
	}
	v.Major, v.Minor, v.Patch = nums[0], nums[1], nums[2]
	return v, nil
}

// String returns v in canonical form, without a leading "v".
func (v Version) String() string {
	var b strings.Builder
	b.WriteString(v.Major + "." + v.Minor + "." + v.Patch)
	if v.Pre != nil {
		b.WriteString("-" + strings.Join(v.Pre, "."))
	}
	if v.Build != "" {
		b.WriteString("+" + v.Build)
	}
	return b.String()
}

// Compare returns -1, 0 or +1 as v sorts before, with or after w by semantic
// version precedence: numbers numerically, a pre-release before its release,
// build metadata ignored.
func (v Version) Compare(w Version) int {
	for _, p := range [][2]string{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if c := compareNumbers(p[0], p[1]); c != 0 {
			return c
		}
	}
	switch {
	case v.Pre == nil && w.Pre == nil:
		return 0
	case v.Pre == nil:
		return 1
	case w.Pre == nil:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		a, b := v.Pre[i], w.Pre[i]
		an, bn := isDigits(a), isDigits(b)
		var c int
		switch {
		case an && bn:
			c = compareNumbers(a, b)
		case an:
			c = -1 // numeric identifiers sort before alphanumeric ones
		case bn:
			c = 1
		default:
			c = strings.Compare(a, b)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

// CompareVersions returns -1, 0 or +1 as version a sorts before, with or
// after version b (see Version.Compare). If either is not a version, it
// returns an error wrapping ErrInvalidVersion, never a silent 0.
func CompareVersions(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// compareNumbers compares decimal strings without leading zeros.
func compareNumbers(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isNumber(s string) bool {
	return isDigits(s) && (s == "0" || s[0] != '0')
}

// validIdents reports whether s is dot-separated non-empty [0-9A-Za-z-]+
// identifiers; with noLeadingZeros, numeric ones are numbers.
func validIdents(s string, noLeadingZeros bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
				return false
			}
		}
		if noLeadingZeros && isDigits(id) && !isNumber(id) {
			return false
		}
	}
	return true
}
