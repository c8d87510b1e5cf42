// Package update replaces the running wsgrok agent with the latest release
// its operator publishes (`wsgrok update`), and tells at start when there is
// one (Notice).
//
// The control service serves a signed release manifest (package
// control/release). An Updater fetches it, verifies its Ed25519 signature
// with a key built into the binary (BuiltinKeys), and, if the release is
// newer than this one, downloads this platform's binary, checks its size and
// SHA-256 against the manifest while it arrives, and only then puts it in
// place of the running binary:
//
//  1. the download goes to a temporary file in the executable's directory,
//     so that the final rename is atomic and never crosses filesystems;
//  2. the file is synced and made executable;
//  3. the old binary is kept as <exe>.old (a hard link where the system has
//     them, so that <exe> never stops existing), then the new file is
//     renamed onto <exe>; if that fails, the old binary is left or put back.
//
// A manifest or binary that fails verification is refused with an error
// that says what to do, and nothing is replaced; no partial file is ever
// left at <exe> or next to it.
//
// <exe>.old is kept until the new binary starts: the new binary calls
// CleanupOld at start, which removes it. Until then the previous version
// can be restored by hand with `mv <exe>.old <exe>`.
//
// The release keys are built in at link time:
//
//	go build -ldflags "-X github.com/wsgrok/wsgrok/agent/update.BuiltinKeysText=release-1:BASE64PUBKEY" ./agent/cmd/wsgrok
//
// and so may be the manifest URL (DefaultManifestURL).
package update

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wsgrok/wsgrok/control/release"
)

// BuiltinKeysText is the release keys built into this binary, as
// "keyid:base64pubkey,keyid2:base64pubkey2" (see ParseKeys). Set it with
//
//	-ldflags "-X github.com/wsgrok/wsgrok/agent/update.BuiltinKeysText=..."
var BuiltinKeysText = ""

// DefaultManifestURL is the release manifest URL built into this binary,
// e.g. https://control.example.com/releases/wsgrok/latest.json; empty if
// none. Set it with -ldflags "-X github.com/wsgrok/wsgrok/agent/update.DefaultManifestURL=...".
var DefaultManifestURL = ""

// BuiltinKeys is BuiltinKeysText parsed; it is empty if BuiltinKeysText is
// empty or does not parse (Check then reports why).
var BuiltinKeys = map[string]ed25519.PublicKey{}

// builtinKeysErr is why BuiltinKeysText did not parse.
var builtinKeysErr error

func init() {
	keys, err := ParseKeys(BuiltinKeysText)
	if err != nil {
		builtinKeysErr = err
		return
	}
	maps.Copy(BuiltinKeys, keys)
}

const (
	// DefaultMaxBinary is the largest binary an Updater downloads unless
	// told otherwise.
	DefaultMaxBinary = 256 << 20
	// ManifestTimeout bounds fetching the manifest.
	ManifestTimeout = 30 * time.Second
	// NoticeTimeout bounds Notice.
	NoticeTimeout = 3 * time.Second
	// downloadTimeout bounds a download when the Updater has no Client.
	downloadTimeout = 10 * time.Minute
	// tempPattern names downloads in progress, after "." and the
	// executable's name.
	tempPattern = ".update-*"
)

// Errors of Check, Apply and Update; test with errors.Is. Manifests that do
// not verify are refused with release's errors, re-exported here.
var (
	ErrNoManifestURL = errors.New("wsgrok: update: no release manifest URL is configured: ask your operator for it")
	ErrNoKeys        = errors.New("wsgrok: update: this wsgrok has no release key built in, so it cannot verify updates: install new releases by hand")
	ErrHTTPStatus    = errors.New("wsgrok: update: the release server refused the request: check the update URL, or try again later")
	ErrUpToDate      = errors.New("wsgrok: update: already up to date")
	ErrNoBuild       = errors.New("wsgrok: update: the latest release has no build for this platform: ask your operator for one")
	ErrTooLarge      = errors.New("wsgrok: update: the release's binary is larger than this wsgrok accepts: refusing to update; report this to your operator")
	ErrSizeMismatch  = errors.New("wsgrok: update: the download is not the size the signed release manifest says (truncated?): refusing to update, nothing was replaced; try again, and report this to your operator if it persists")
	ErrHashMismatch  = errors.New("wsgrok: update: the downloaded binary's SHA-256 does not match the signed release manifest: refusing to update, nothing was replaced; try again, and report this to your operator if it persists")

	ErrBadSignature = release.ErrBadSignature
	ErrUnknownKey   = release.ErrUnknownKey
	ErrMalformed    = release.ErrMalformed
)

// Updater updates one executable from one release manifest. Only
// ManifestURL and Current are required; the zero value of every other field
// picks its default. An Updater is safe for concurrent use, though two
// concurrent Applies to the same executable make little sense.
type Updater struct {
	// ManifestURL is the signed release manifest's URL (http or https).
	ManifestURL string
	// Keys are the trusted release keys by key id; nil for BuiltinKeys.
	Keys map[string]ed25519.PublicKey
	// Current is this binary's version, e.g. agent.Version.
	Current string
	// Exe is the path of the binary to replace; "" for the running one
	// (os.Executable). Symbolic links are resolved: their target is replaced.
	Exe string
	// Client fetches the manifest and binary; nil for one with a 10-minute
	// timeout that honours the proxy environment variables.
	Client *http.Client
	// OS and Arch select the build; "" for runtime.GOOS and runtime.GOARCH.
	OS, Arch string
	// MaxBinary is the largest binary downloaded; 0 for DefaultMaxBinary.
	MaxBinary int64
}

var defaultClient = &http.Client{Timeout: downloadTimeout}

func (u *Updater) client() *http.Client {
	if u.Client != nil {
		return u.Client
	}
	return defaultClient
}

func (u *Updater) platform() (goos, goarch string) {
	goos, goarch = u.OS, u.Arch
	if goos == "" {
		goos = runtime.GOOS
	}
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	return goos, goarch
}

func (u *Updater) maxBinary() int64 {
	if u.MaxBinary > 0 {
		return u.MaxBinary
	}
	return DefaultMaxBinary
}

func (u *Updater) keys() (map[string]ed25519.PublicKey, error) {
	keys := u.Keys
	if keys == nil {
		keys = BuiltinKeys
	}
	if len(keys) == 0 {
		if u.Keys == nil && builtinKeysErr != nil {
			return nil, fmt.Errorf("%w (the built-in keys do not parse: %v)", ErrNoKeys, builtinKeysErr)
		}
		return nil, ErrNoKeys
	}
	return keys, nil
}

func (u *Updater) userAgent() string {
	goos, goarch := u.platform()
	return fmt.Sprintf("wsgrok/%s (%s/%s; update)", u.Current, goos, goarch)
}

// Executable returns the path of the running binary with symbolic links
// resolved.
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("wsgrok: update: cannot find this wsgrok's binary: %w", err)
	}
	return resolveExe(exe)
}

func resolveExe(exe string) (string, error) {
	p, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return "", fmt.Errorf("wsgrok: update: cannot find this wsgrok's binary: %w", err)
	}
	return filepath.Abs(p)
}

func (u *Updater) exe() (string, error) {
	if u.Exe == "" {
		return Executable()
	}
	return resolveExe(u.Exe)
}

// Check fetches and verifies the release manifest and returns it with the
// build for this platform, its URL made absolute, and whether the release
// is newer than Current. When the release is not newer, the build may be
// the zero Build (no build for this platform) and the error is nil; when it
// is newer and has no build for this platform, the error wraps ErrNoBuild.
// A manifest that does not verify is refused with an error wrapping one of
// release's errors; an HTTP error status with one wrapping ErrHTTPStatus.
func (u *Updater) Check(ctx context.Context) (release.Manifest, release.Build, bool, error) {
	cur, err := release.ParseVersion(u.Current)
	if err != nil {
		return release.Manifest{}, release.Build{}, false, &wrapped{
			msg: fmt.Sprintf("wsgrok: update: this wsgrok's version %q is not a release version (MAJOR.MINOR.PATCH[-PRERELEASE]), so it cannot tell whether a release is newer: install releases by hand", u.Current),
			err: err,
		}
	}
	m, base, err := u.fetchManifest(ctx)
	if err != nil {
		return release.Manifest{}, release.Build{}, false, err
	}
	latest, err := release.ParseVersion(m.Version)
	if err != nil { // Verify checks it; be safe anyway
		return release.Manifest{}, release.Build{}, false, fmt.Errorf("%w (%v)", release.ErrMalformed, err)
	}
	newer := latest.Compare(cur) > 0
	goos, goarch := u.platform()
	b, ok := m.Build(goos, goarch)
	if ok {
		ref, err := url.Parse(b.URL)
		if err != nil { // Verify checks it
			return release.Manifest{}, release.Build{}, false, fmt.Errorf("%w (build url does not parse)", release.ErrMalformed)
		}
		b.URL = base.ResolveReference(ref).String()
	}
	if newer && !ok {
		return m, release.Build{}, false, fmt.Errorf("%w (wsgrok %s has no %s/%s build)", ErrNoBuild, m.Version, goos, goarch)
	}
	return m, b, newer, nil
}

// fetchManifest returns the verified manifest and the URL it came from,
// after redirects.
func (u *Updater) fetchManifest(ctx context.Context) (release.Manifest, *url.URL, error) {
	if u.ManifestURL == "" {
		return release.Manifest{}, nil, ErrNoManifestURL
	}
	mu, err := url.Parse(u.ManifestURL)
	if err != nil || (mu.Scheme != "http" && mu.Scheme != "https") || mu.Host == "" {
		return release.Manifest{}, nil, fmt.Errorf("wsgrok: update: the release manifest URL %q is not an http or https URL", u.ManifestURL)
	}
	keys, err := u.keys()
	if err != nil {
		return release.Manifest{}, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, ManifestTimeout)
	defer cancel()
	resp, err := u.get(ctx, mu.String(), "application/json")
	if errors.Is(err, ErrHTTPStatus) {
		return release.Manifest{}, nil, err
	}
	if err != nil {
		return release.Manifest{}, nil, fmt.Errorf("wsgrok: update: fetching the release manifest: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, release.MaxEnvelope+1))
	if err != nil {
		return release.Manifest{}, nil, fmt.Errorf("wsgrok: update: reading the release manifest from %s: %w", mu, err)
	}
	m, err := release.Verify(body, keys)
	if err != nil {
		return release.Manifest{}, nil, fmt.Errorf("%w (manifest %s)", err, mu)
	}
	return m, resp.Request.URL, nil
}

// get GETs rawURL and returns the response if its status is 200.
func (u *Updater) get(ctx context.Context, rawURL, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", u.userAgent())
	resp, err := u.client().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%w (GET %s: %s)", ErrHTTPStatus, rawURL, resp.Status)
	}
	return resp, nil
}

// Apply downloads b, verifies its size and SHA-256, and puts it in place of
// the executable, keeping the old one as <exe>.old (see the package
// documentation). b is a build of a verified manifest, as Check returns it;
// a relative URL is resolved against ManifestURL. On any error nothing is
// replaced and no file is left behind; a download that does not verify is
// refused with an error wrapping ErrSizeMismatch, ErrHashMismatch or
// ErrTooLarge.
func (u *Updater) Apply(ctx context.Context, b release.Build) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if limit := u.maxBinary(); b.Size > limit {
		return fmt.Errorf("%w (%d octets; at most %d)", ErrTooLarge, b.Size, limit)
	}
	src, err := u.resolve(b.URL)
	if err != nil {
		return err
	}
	exe, err := u.exe()
	if err != nil {
		return err
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return fmt.Errorf("wsgrok: update: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("wsgrok: update: %s is not a regular file: install new releases by hand", exe)
	}
	mode := fi.Mode().Perm()
	if mode&0o100 == 0 {
		mode = 0o755
	}

	dir := filepath.Dir(exe)
	f, err := os.CreateTemp(dir, "."+filepath.Base(exe)+tempPattern)
	if err != nil {
		return fmt.Errorf("wsgrok: update: cannot write the new binary next to %s: %w; run `wsgrok update` as the user who installed wsgrok", exe, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := u.download(ctx, src, b, f); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("wsgrok: update: making the new binary executable: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wsgrok: update: writing the new binary: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("wsgrok: update: writing the new binary: %w", err)
	}
	if err := replace(exe, tmp); err != nil {
		return err
	}
	done = true
	syncDir(dir)
	return nil
}

// resolve makes a build URL absolute against the manifest's URL.
func (u *Updater) resolve(raw string) (string, error) {
	ref, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w (build url does not parse)", release.ErrMalformed)
	}
	if !ref.IsAbs() {
		base, err := url.Parse(u.ManifestURL)
		if err != nil || !base.IsAbs() {
			return "", fmt.Errorf("wsgrok: update: the build URL %q is relative and there is no manifest URL to resolve it against", raw)
		}
		ref = base.ResolveReference(ref)
	}
	if ref.Scheme != "http" && ref.Scheme != "https" {
		return "", fmt.Errorf("%w (build url is neither http nor https)", release.ErrMalformed)
	}
	return ref.String(), nil
}

// download writes the body of src to f, refusing it unless it is exactly
// b.Size octets with SHA-256 b.SHA256.
func (u *Updater) download(ctx context.Context, src string, b release.Build, f *os.File) error {
	resp, err := u.get(ctx, src, "application/octet-stream")
	if err != nil {
		if errors.Is(err, ErrHTTPStatus) {
			return err
		}
		return fmt.Errorf("wsgrok: update: downloading the new binary: %w", err)
	}
	defer resp.Body.Close()
	if resp.ContentLength >= 0 && resp.ContentLength != b.Size {
		return fmt.Errorf("%w (the server sends %d octets, the manifest says %d)", ErrSizeMismatch, resp.ContentLength, b.Size)
	}
	h := sha256.New()
	w := &fileWriter{f: f}
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, b.Size+1))
	switch {
	case w.err != nil:
		return fmt.Errorf("wsgrok: update: writing the new binary: %w", w.err)
	case ctx.Err() != nil:
		return fmt.Errorf("wsgrok: update: download interrupted after %d of %d octets: %w", n, b.Size, ctx.Err())
	case err != nil:
		return fmt.Errorf("%w (the download broke off after %d of %d octets: %v)", ErrSizeMismatch, n, b.Size, err)
	case n < b.Size:
		return fmt.Errorf("%w (the download ended after %d of %d octets)", ErrSizeMismatch, n, b.Size)
	case n > b.Size:
		return fmt.Errorf("%w (the download is longer than the %d octets the manifest says)", ErrSizeMismatch, b.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != b.SHA256 {
		return fmt.Errorf("%w (got %s, want %s)", ErrHashMismatch, got, b.SHA256)
	}
	return nil
}

// wrapped is an error with its own message that wraps err.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// fileWriter keeps the error of writing to the file apart from that of
// reading the download.
type fileWriter struct {
	f   *os.File
	err error
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// replace puts the complete, verified file tmp in place of exe, keeping exe
// as exe.old. On error, exe is what it was.
func replace(exe, tmp string) error {
	old := OldPath(exe)
	if err := os.Remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) && runtime.GOOS != "windows" {
		return fmt.Errorf("wsgrok: update: removing the binary an earlier update kept: %w", err)
	}
	// Where there are hard links, keep the old binary as a second name of
	// the same file, so that exe is replaced in one rename and never
	// missing. Windows cannot rename onto a running binary, only move it
	// aside.
	if runtime.GOOS != "windows" {
		if err := link(exe, old); err == nil {
			if err := os.Rename(tmp, exe); err != nil {
				os.Remove(old)
				return fmt.Errorf("wsgrok: update: putting the new binary in place: %w; nothing was replaced", err)
			}
			return nil
		}
	}
	if err := os.Rename(exe, old); err != nil {
		return fmt.Errorf("wsgrok: update: moving the old binary aside: %w; nothing was replaced", err)
	}
	if err := os.Rename(tmp, exe); err != nil {
		if rerr := os.Rename(old, exe); rerr != nil {
			return fmt.Errorf("wsgrok: update: putting the new binary in place: %w; and putting the old one back: %v: move %s back to %s by hand", err, rerr, old, exe)
		}
		return fmt.Errorf("wsgrok: update: putting the new binary in place: %w; nothing was replaced", err)
	}
	return nil
}

// link is os.Link; tests replace it to take the path of systems without
// hard links.
var link = os.Link

// syncDir makes the renames in dir durable where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// OldPath is where Apply keeps the binary it replaced: exe + ".old".
func OldPath(exe string) string { return exe + ".old" }

// CleanupOld removes the binary an update kept (<exe>.old), and downloads
// an interrupted update left next to exe more than an hour ago. The new
// binary calls it once it has started, which proves it runs:
//
//	update.CleanupOld("")
//
// exe "" is the running binary. Errors are ignored: an old binary that
// stays is harmless, and on Windows it cannot be removed while the previous
// process still runs.
func CleanupOld(exe string) {
	if exe == "" {
		var err error
		if exe, err = Executable(); err != nil {
			return
		}
	} else if p, err := resolveExe(exe); err == nil {
		exe = p
	}
	os.Remove(OldPath(exe))
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), "."+globEscape(filepath.Base(exe))+tempPattern))
	for _, p := range stale {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > time.Hour {
			os.Remove(p)
		}
	}
}

// globEscape escapes the metacharacters of filepath.Match in s.
func globEscape(s string) string {
	if runtime.GOOS == "windows" {
		// No escaping there; names with metacharacters just match nothing.
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Update is Check then Apply: it replaces the executable with the latest
// release and returns its manifest, or returns an error wrapping
// ErrUpToDate if the latest release is not newer than Current.
func (u *Updater) Update(ctx context.Context) (release.Manifest, error) {
	m, b, newer, err := u.Check(ctx)
	if err != nil {
		return release.Manifest{}, err
	}
	if !newer {
		return m, fmt.Errorf("%w (you have %s; the latest release is %s)", ErrUpToDate, u.Current, m.Version)
	}
	if err := u.Apply(ctx, b); err != nil {
		return m, err
	}
	return m, nil
}

// Notice returns a one-line notice that a newer release exists, such as
//
//	wsgrok 1.3.0 is available (you have 1.2.0): run `wsgrok update`
//
// or "" if there is none, or on any error: it is for the agent's start, and
// gives up after NoticeTimeout.
func Notice(ctx context.Context, u *Updater) string {
	if u == nil || u.ManifestURL == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, NoticeTimeout)
	defer cancel()
	m, _, newer, err := u.Check(ctx)
	if err != nil || !newer {
		return ""
	}
	return fmt.Sprintf("wsgrok %s is available (you have %s): run `wsgrok update`", m.Version, u.Current)
}

// ParseKeys parses release keys written as "keyid:base64pubkey" pairs
// separated by commas, with standard base64 of a 32-octet Ed25519 public
// key; a key id cannot hold ":" or ",". Spaces around pairs are ignored; ""
// is no keys.
func ParseKeys(text string) (map[string]ed25519.PublicKey, error) {
	keys := map[string]ed25519.PublicKey{}
	if strings.TrimSpace(text) == "" {
		return keys, nil
	}
	for i, pair := range strings.Split(text, ",") {
		pair = strings.TrimSpace(pair)
		id, k64, ok := strings.Cut(pair, ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("wsgrok: update: release key %d is not keyid:base64pubkey", i+1)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("wsgrok: update: release key %q appears twice", id)
		}
		pub, err := base64.StdEncoding.Strict().DecodeString(k64)
		if err != nil || len(pub) != ed25519.PublicKeySize || strings.ContainsAny(k64, "\r\n") {
			return nil, fmt.Errorf("wsgrok: update: release key %q is not the base64 of a %d-octet Ed25519 public key", id, ed25519.PublicKeySize)
		}
		keys[id] = ed25519.PublicKey(pub)
	}
	return keys, nil
}

// FormatKeys writes keys as ParseKeys reads them, sorted by key id: the
// value for BuiltinKeysText.
func FormatKeys(keys map[string]ed25519.PublicKey) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		parts = append(parts, id+":"+base64.StdEncoding.EncodeToString(keys[id]))
	}
	return strings.Join(parts, ",")
}
