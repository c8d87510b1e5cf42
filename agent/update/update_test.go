package update_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent/update"
	"github.com/wsgrok/wsgrok/control/release"
)

// fakeMain is the "wsgrok" the tests update: it prints its version.
const fakeMain = `package main

import "fmt"

var version = "dev"

func main() { fmt.Println("wsgrok " + version) }
`

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	binaries  = map[string][]byte{} // version -> executable
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary returns a real executable that prints "wsgrok <version>", built
// once per test run with `go build`.
func binary(t *testing.T, version string) []byte {
	t.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("no go command: %w", err)
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "wsgrok-update-test-"); buildErr != nil {
			return
		}
		src := filepath.Join(buildDir, "src")
		if buildErr = os.Mkdir(src, 0o755); buildErr != nil {
			return
		}
		os.WriteFile(filepath.Join(src, "go.mod"), []byte("module fakewsgrok\n\ngo 1.22\n"), 0o644)
		os.WriteFile(filepath.Join(src, "main.go"), []byte(fakeMain), 0o644)
		for _, v := range []string{"1.2.0", "1.3.0"} {
			out := filepath.Join(buildDir, "wsgrok-"+v)
			cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w -X main.version="+v, "-o", out, ".")
			cmd.Dir = src
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0", "GOTOOLCHAIN=local")
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build: %v\n%s", err, b)
				return
			}
			if binaries[v], buildErr = os.ReadFile(out); buildErr != nil {
				return
			}
		}
	})
	if buildErr != nil {
		if errors.Is(buildErr, exec.ErrNotFound) {
			t.Skip(buildErr)
		}
		t.Fatal(buildErr)
	}
	return binaries[version]
}

// fixture is an installed wsgrok 1.2.0 and a release server.
type fixture struct {
	t      *testing.T
	dir    string // where wsgrok is installed
	exe    string
	old    []byte // the installed binary
	newBin []byte // what the server serves for 1.3.0
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	srv    *httptest.Server

	mu       sync.Mutex
	envelope []byte
	serveBin http.HandlerFunc // serves /releases/wsgrok/wsgrok-1.3.0
	gets     map[string]int   // requests by path
}

const manifestPath = "/releases/wsgrok/latest.json"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), old: binary(t, "1.2.0"), newBin: binary(t, "1.3.0"), gets: map[string]int{}}
	name := "wsgrok"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	f.exe = filepath.Join(f.dir, name)
	if err := os.WriteFile(f.exe, f.old, 0o755); err != nil {
		t.Fatal(err)
	}
	f.runs(f.exe, "1.2.0")
	var err error
	if f.pub, f.priv, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	f.serveBin = func(w http.ResponseWriter, r *http.Request) { w.Write(f.newBin) }
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.gets[r.URL.Path]++
		env, serveBin := f.envelope, f.serveBin
		f.mu.Unlock()
		switch r.URL.Path {
		case manifestPath:
			if env == nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(env)
		case "/releases/wsgrok/wsgrok-1.3.0":
			serveBin(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// manifest returns a manifest of 1.3.0 whose build for this platform is the
// new binary, at a URL relative to the manifest's.
func (f *fixture) manifest() release.Manifest {
	sum := sha256.Sum256(f.newBin)
	return release.Manifest{
		Product: "wsgrok", Version: "1.3.0", Published: time.Now().UTC().Truncate(time.Second),
		Builds: []release.Build{
			{OS: "plan9", Arch: "386", URL: "https://nowhere.invalid/x", SHA256: strings.Repeat("0", 64), Size: 1},
			{OS: runtime.GOOS, Arch: runtime.GOARCH, URL: "wsgrok-1.3.0", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(f.newBin))},
		},
		Notes: "faster",
	}
}

// publish signs m with the fixture's key and serves it.
func (f *fixture) publish(m release.Manifest) {
	f.t.Helper()
	env, err := release.Sign(f.priv, "test-1", m)
	if err != nil {
		f.t.Fatal(err)
	}
	f.serve(env)
}

func (f *fixture) serve(env []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.envelope = env
}

func (f *fixture) setServeBin(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serveBin = h
}

func (f *fixture) requests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets[path]
}

func (f *fixture) updater() *update.Updater {
	return &update.Updater{
		ManifestURL: f.srv.URL + manifestPath,
		Keys:        map[string]ed25519.PublicKey{"test-1": f.pub},
		Current:     "1.2.0",
		Exe:         f.exe,
		Client:      f.srv.Client(),
	}
}

// runs executes exe and checks that it prints "wsgrok <version>".
func (f *fixture) runs(exe, version string) {
	f.t.Helper()
	out, err := exec.Command(exe).CombinedOutput()
	if err != nil {
		f.t.Fatalf("running %s: %v\n%s", exe, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "wsgrok "+version {
		f.t.Fatalf("%s prints %q, want %q", exe, got, "wsgrok "+version)
	}
}

// files returns the names in the install directory.
func (f *fixture) files() []string {
	f.t.Helper()
	des, err := os.ReadDir(f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// untouched checks that the installed binary is the old one, still runs,
// and is alone: no .old, no download left behind.
func (f *fixture) untouched() {
	f.t.Helper()
	if got, want := f.files(), []string{filepath.Base(f.exe)}; !slices.Equal(got, want) {
		f.t.Fatalf("install directory holds %q, want %q", got, want)
	}
	b, err := os.ReadFile(f.exe)
	if err != nil {
		f.t.Fatal(err)
	}
	if !bytes.Equal(b, f.old) {
		f.t.Fatal("the installed binary changed")
	}
	f.runs(f.exe, "1.2.0")
}

// refused checks that err is a refusal wrapping want, with a message, and
// that nothing was replaced.
func (f *fixture) refused(err, want error) {
	f.t.Helper()
	if !errors.Is(err, want) {
		f.t.Fatalf("error %v, want %v", err, want)
	}
	f.t.Logf("refused: %v", err)
	if !strings.HasPrefix(err.Error(), "wsgrok: ") {
		f.t.Fatalf("error %q does not say where it comes from", err)
	}
	f.untouched()
}

func TestUpdate(t *testing.T) {
	f := newFixture(t)
	f.publish(f.manifest())
	u := f.updater()

	if got, want := update.Notice(t.Context(), u), "wsgrok 1.3.0 is available (you have 1.2.0): run `wsgrok update`"; got != want {
		t.Fatalf("Notice = %q, want %q", got, want)
	}
	m, b, newer, err := u.Check(t.Context())
	if err != nil || !newer || m.Version != "1.3.0" || m.Notes != "faster" {
		t.Fatalf("Check = %+v, %v, %v", m, newer, err)
	}
	if want := f.srv.URL + "/releases/wsgrok/wsgrok-1.3.0"; b.URL != want {
		t.Fatalf("build URL %q, want %q", b.URL, want)
	}
	f.untouched() // Check changes nothing

	m, err = u.Update(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "1.3.0" {
		t.Fatalf("updated to %q", m.Version)
	}
	f.runs(f.exe, "1.3.0")
	old := update.OldPath(f.exe)
	f.runs(old, "1.2.0") // kept, and still works
	if got, want := f.files(), []string{filepath.Base(f.exe), filepath.Base(old)}; !slices.Equal(got, want) {
		t.Fatalf("install directory holds %q, want %q", got, want)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(f.exe)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("new binary: %v, %v", fi.Mode(), err)
		}
	}

	// The new binary, once it runs, removes the old one.
	update.CleanupOld(f.exe)
	if got, want := f.files(), []string{filepath.Base(f.exe)}; !slices.Equal(got, want) {
		t.Fatalf("after CleanupOld the install directory holds %q, want %q", got, want)
	}
	f.runs(f.exe, "1.3.0")
	update.CleanupOld(f.exe) // nothing to do

	// Now up to date.
	u.Current = "1.3.0"
	if _, err := u.Update(t.Context()); !errors.Is(err, update.ErrUpToDate) {
		t.Fatalf("updating again: %v", err)
	}
	if s := update.Notice(t.Context(), u); s != "" {
		t.Fatalf("Notice = %q when up to date", s)
	}
}

// A second update replaces the .old an earlier one kept.
func TestUpdateReplacesStaleOld(t *testing.T) {
	f := newFixture(t)
	f.publish(f.manifest())
	if err := os.WriteFile(update.OldPath(f.exe), []byte("stale"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := f.updater().Update(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.runs(f.exe, "1.3.0")
	f.runs(update.OldPath(f.exe), "1.2.0")
}

// The target of a symbolic link is replaced; the link stays.
func TestUpdateThroughSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	f := newFixture(t)
	f.publish(f.manifest())
	link := filepath.Join(t.TempDir(), "wsgrok")
	if err := os.Symlink(f.exe, link); err != nil {
		t.Fatal(err)
	}
	u := f.updater()
	u.Exe = link
	if _, err := u.Update(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	f.runs(link, "1.3.0")
	f.runs(update.OldPath(f.exe), "1.2.0")
	update.CleanupOld(link)
	if _, err := os.Stat(update.OldPath(f.exe)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("CleanupOld through the link left the old binary: %v", err)
	}
}

func TestBadSignature(t *testing.T) {
	f := newFixture(t)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	env, err := release.Sign(other, "test-1", f.manifest()) // same key id, other key
	if err != nil {
		t.Fatal(err)
	}
	f.serve(env)
	_, err = f.updater().Update(t.Context())
	f.refused(err, update.ErrBadSignature)
	if !strings.Contains(err.Error(), "the release manifest's signature does not verify with the key built into this wsgrok: refusing to update; report this to your operator") {
		t.Fatalf("error %q", err)
	}
	if !strings.Contains(err.Error(), f.srv.URL+manifestPath) {
		t.Fatalf("error %q does not name the manifest", err)
	}
	if n := f.requests("/releases/wsgrok/wsgrok-1.3.0"); n != 0 {
		t.Fatalf("downloaded the binary %d times for an unverified manifest", n)
	}
	if s := update.Notice(t.Context(), f.updater()); s != "" {
		t.Fatalf("Notice = %q for an unverified manifest", s)
	}
}

// A manifest altered after signing (here: the hash of another binary) does
// not verify, and nothing is downloaded.
func TestTamperedManifest(t *testing.T) {
	f := newFixture(t)
	m := f.manifest()
	env, err := release.Sign(f.priv, "test-1", m)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]string
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	body, err := base64.StdEncoding.DecodeString(e["manifest"])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(f.old)
	evil := bytes.Replace(body, []byte(m.Builds[1].SHA256), []byte(hex.EncodeToString(sum[:])), 1)
	if bytes.Equal(evil, body) {
		t.Fatal("the hash is not in the manifest")
	}
	e["manifest"] = base64.StdEncoding.EncodeToString(evil)
	env, _ = json.Marshal(e)
	f.serve(env)
	_, err = f.updater().Update(t.Context())
	f.refused(err, update.ErrBadSignature)
	if n := f.requests("/releases/wsgrok/wsgrok-1.3.0"); n != 0 {
		t.Fatalf("downloaded %d times", n)
	}
}

func TestUnknownKey(t *testing.T) {
	f := newFixture(t)
	env, err := release.Sign(f.priv, "test-2", f.manifest())
	if err != nil {
		t.Fatal(err)
	}
	f.serve(env)
	_, err = f.updater().Update(t.Context())
	f.refused(err, update.ErrUnknownKey)
	if !strings.Contains(err.Error(), `"test-2"`) {
		t.Fatalf("error %q does not name the key", err)
	}
}

func TestNoKeys(t *testing.T) {
	f := newFixture(t)
	f.publish(f.manifest())
	u := f.updater()
	u.Keys = map[string]ed25519.PublicKey{}
	_, err := u.Update(t.Context())
	f.refused(err, update.ErrNoKeys)
	if len(update.BuiltinKeys) == 0 { // unless the test is built with keys
		u.Keys = nil
		_, err = u.Update(t.Context())
		f.refused(err, update.ErrNoKeys)
	}
	if n := f.requests(manifestPath); n != 0 {
		t.Fatalf("fetched the manifest %d times without keys to verify it", n)
	}
}

func TestManifestTooLarge(t *testing.T) {
	f := newFixture(t)
	env, err := release.Sign(f.priv, "test-1", f.manifest())
	if err != nil {
		t.Fatal(err)
	}
	f.serve(append(env, bytes.Repeat([]byte(" "), release.MaxEnvelope)...))
	_, err = f.updater().Update(t.Context())
	f.refused(err, release.ErrTooLarge)
}

func TestMalformedManifest(t *testing.T) {
	f := newFixture(t)
	f.serve([]byte("<html>not a manifest</html>"))
	_, err := f.updater().Update(t.Context())
	f.refused(err, update.ErrMalformed)
}

func TestWrongHash(t *testing.T) {
	f := newFixture(t)
	m := f.manifest()
	sum := sha256.Sum256(append(bytes.Clone(f.newBin[:len(f.newBin)-1]), f.newBin[len(f.newBin)-1]^1))
	m.Builds[1].SHA256 = hex.EncodeToString(sum[:])
	f.publish(m)
	_, err := f.updater().Update(t.Context())
	f.refused(err, update.ErrHashMismatch)

	// Or: the right manifest, a tampered binary of the same size.
	f.publish(f.manifest())
	f.setServeBin(func(w http.ResponseWriter, r *http.Request) {
		b := bytes.Clone(f.newBin)
		b[len(b)/2] ^= 0x80
		w.Write(b)
	})
	_, err = f.updater().Update(t.Context())
	f.refused(err, update.ErrHashMismatch)
}

func TestTruncatedDownload(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(bin []byte) http.HandlerFunc
	}{
		{"short with its length", func(bin []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.Write(bin[:len(bin)-100]) }
		}},
		{"short chunked", func(bin []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Write(bin[:len(bin)/2])
				w.(http.Flusher).Flush() // no Content-Length
			}
		}},
		{"connection closed early", func(bin []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(len(bin)))
				w.Write(bin[:len(bin)/2])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // closes the connection
			}
		}},
		{"chunked, closed early", func(bin []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Write(bin[:len(bin)/3])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
		}},
		{"longer with its length", func(bin []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.Write(append(bytes.Clone(bin), 0)) }
		}},
		{"longer chunked", func(bin []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Write(bin)
				w.(http.Flusher).Flush()
				w.Write([]byte("trailing garbage"))
			}
		}},
		{"empty", func(bin []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.publish(f.manifest())
			f.setServeBin(tc.serve(f.newBin))
			_, err := f.updater().Update(t.Context())
			f.refused(err, update.ErrSizeMismatch)
		})
	}
}

func TestBinaryTooLarge(t *testing.T) {
	f := newFixture(t)
	f.publish(f.manifest())
	u := f.updater()
	u.MaxBinary = int64(len(f.newBin)) - 1
	_, err := u.Update(t.Context())
	f.refused(err, update.ErrTooLarge)
	if n := f.requests("/releases/wsgrok/wsgrok-1.3.0"); n != 0 {
		t.Fatalf("downloaded an oversized binary %d times", n)
	}
}

func TestNotNewer(t *testing.T) {
	for _, v := range []string{"1.2.0", "1.1.9", "1.2.0-rc.1", "1.2.0+rebuild"} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t)
			m := f.manifest()
			m.Version = v
			f.publish(m)
			u := f.updater()
			m, b, newer, err := u.Check(t.Context())
			if err != nil || newer || m.Version != v || b.OS != runtime.GOOS {
				t.Fatalf("Check = %+v, %+v, %v, %v", m, b, newer, err)
			}
			_, err = u.Update(t.Context())
			f.refused(err, update.ErrUpToDate)
			if s := update.Notice(t.Context(), u); s != "" {
				t.Fatalf("Notice = %q", s)
			}
			if n := f.requests("/releases/wsgrok/wsgrok-1.3.0"); n != 0 {
				t.Fatalf("downloaded %d times", n)
			}
		})
	}
}

func TestPreReleaseIsNewer(t *testing.T) {
	f := newFixture(t)
	m := f.manifest()
	m.Version = "1.3.0-rc.1"
	f.publish(m)
	if _, _, newer, err := f.updater().Check(t.Context()); err != nil || !newer {
		t.Fatalf("1.3.0-rc.1 over 1.2.0: newer %v, %v", newer, err)
	}
}

func TestNoBuildForPlatform(t *testing.T) {
	f := newFixture(t)
	f.publish(f.manifest())
	u := f.updater()
	u.OS, u.Arch = "aix", "ppc64"
	_, err := u.Update(t.Context())
	f.refused(err, update.ErrNoBuild)
	if !strings.Contains(err.Error(), "aix/ppc64") || !strings.Contains(err.Error(), "1.3.0") {
		t.Fatalf("error %q does not say which build is missing", err)
	}
	if s := update.Notice(t.Context(), u); s != "" {
		t.Fatalf("Notice = %q without a build", s)
	}
}

func TestHTTPStatus(t *testing.T) {
	f := newFixture(t)
	_, err := f.updater().Update(t.Context()) // nothing published: 404
	f.refused(err, update.ErrHTTPStatus)
	if !strings.Contains(err.Error(), f.srv.URL+manifestPath) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("error %q does not name the URL and status", err)
	}

	f.publish(f.manifest())
	f.setServeBin(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	})
	_, err = f.updater().Update(t.Context())
	f.refused(err, update.ErrHTTPStatus)
	if !strings.Contains(err.Error(), f.srv.URL+"/releases/wsgrok/wsgrok-1.3.0") || !strings.Contains(err.Error(), "410") {
		t.Fatalf("error %q does not name the URL and status", err)
	}
}

func TestCanceledDownload(t *testing.T) {
	f := newFixture(t)
	f.publish(f.manifest())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.setServeBin(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(f.newBin)))
		w.Write(f.newBin[:1000])
		w.(http.Flusher).Flush()
		cancel()
		<-r.Context().Done()
	})
	_, err := f.updater().Update(ctx)
	f.refused(err, context.Canceled)
}

func TestUnreleasedCurrent(t *testing.T) {
	f := newFixture(t)
	f.publish(f.manifest())
	u := f.updater()
	u.Current = "dev"
	_, err := u.Update(t.Context())
	f.refused(err, release.ErrInvalidVersion)
	if n := f.requests(manifestPath); n != 0 {
		t.Fatalf("fetched the manifest %d times for a development build", n)
	}
}

func TestNoManifestURL(t *testing.T) {
	u := &update.Updater{Current: "1.2.0", Keys: map[string]ed25519.PublicKey{"k": make(ed25519.PublicKey, 32)}}
	if _, _, _, err := u.Check(t.Context()); !errors.Is(err, update.ErrNoManifestURL) {
		t.Fatalf("Check without a URL: %v", err)
	}
	if s := update.Notice(t.Context(), u); s != "" {
		t.Fatalf("Notice = %q", s)
	}
	if s := update.Notice(t.Context(), nil); s != "" {
		t.Fatalf("Notice(nil) = %q", s)
	}
	u.ManifestURL = "ftp://example.com/latest.json"
	if _, _, _, err := u.Check(t.Context()); err == nil {
		t.Fatal("Check of an ftp URL succeeded")
	}
}

// Notice gives up quietly when the server does not answer.
func TestNoticeTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	u := &update.Updater{ManifestURL: srv.URL + manifestPath, Current: "1.2.0", Keys: map[string]ed25519.PublicKey{"k": make(ed25519.PublicKey, 32)}}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if s := update.Notice(ctx, u); s != "" {
		t.Fatalf("Notice = %q", s)
	}
	if d := time.Since(start); d > update.NoticeTimeout+time.Second {
		t.Fatalf("Notice took %v", d)
	}
	// And when nothing listens.
	srv2 := httptest.NewServer(http.NotFoundHandler())
	u.ManifestURL = srv2.URL
	srv2.Close()
	if s := update.Notice(t.Context(), u); s != "" {
		t.Fatalf("Notice = %q", s)
	}
}

// CleanupOld removes downloads an interrupted update left, once they are
// old enough not to be another update's in progress.
func TestCleanupOldStaleDownloads(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "wsgrok")
	os.WriteFile(exe, []byte("x"), 0o755)
	os.WriteFile(update.OldPath(exe), []byte("x"), 0o755)
	stale := filepath.Join(dir, ".wsgrok.update-123")
	fresh := filepath.Join(dir, ".wsgrok.update-456")
	other := filepath.Join(dir, ".other.update-789")
	for _, p := range []string{stale, fresh, other} {
		os.WriteFile(p, []byte("partial"), 0o600)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, past, past)
	os.Chtimes(other, past, past)
	update.CleanupOld(exe)
	for p, want := range map[string]bool{exe: true, update.OldPath(exe): false, stale: false, fresh: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

func TestParseKeys(t *testing.T) {
	pub1, _, _ := ed25519.GenerateKey(rand.Reader)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	keys := map[string]ed25519.PublicKey{"release-2": pub2, "release-1": pub1}
	text := update.FormatKeys(keys)
	if !strings.HasPrefix(text, "release-1:") || strings.Count(text, ",") != 1 {
		t.Fatalf("FormatKeys = %q", text)
	}
	for _, in := range []string{text, " " + strings.ReplaceAll(text, ",", " , ") + " "} {
		got, err := update.ParseKeys(in)
		if err != nil || len(got) != 2 || !got["release-1"].Equal(pub1) || !got["release-2"].Equal(pub2) {
			t.Fatalf("ParseKeys(%q) = %v, %v", in, got, err)
		}
	}
	if got, err := update.ParseKeys(""); err != nil || len(got) != 0 {
		t.Fatalf("ParseKeys(\"\") = %v, %v", got, err)
	}
	one := update.FormatKeys(map[string]ed25519.PublicKey{"k": pub1})
	for _, bad := range []string{
		"k", ":" + one[2:], "k:", "k:!!!", "k:" + one[2:len(one)-4], one + "," + one, one + ",", "k:" + one[2:12] + "\n" + one[12:],
	} {
		if got, err := update.ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) = %v", bad, got)
		}
	}
	// BuiltinKeys is BuiltinKeysText (-ldflags -X), parsed.
	if want, err := update.ParseKeys(update.BuiltinKeysText); err == nil && update.FormatKeys(update.BuiltinKeys) != update.FormatKeys(want) {
		t.Errorf("BuiltinKeys %v, BuiltinKeysText %q", update.BuiltinKeys, update.BuiltinKeysText)
	}
}
