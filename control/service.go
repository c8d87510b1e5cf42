// Package control is wsgrok's control service: accounts, authtokens and
// their signing keys, API keys, reserved names, per-endpoint security
// policies and usage analytics, behind a JSON API and a web dashboard.
// Edges sync from it over the edge API (control/api) and enforce what it
// says without asking it on the request path.
package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/control/store"
)

// Config configures a Service. Zero fields take the defaults described.
type Config struct {
	DataDir        string        // the SQLite database and the edge secret. Default ./wsgrok-control-data.
	PublicURL      string        // the dashboard's URL, for links. Default derived from the listener.
	Domain         string        // the tunnels' domain, for display. Default "localhost".
	EdgeSecret     string        // shared with edges; default: generated once and kept in DataDir
	Quarantine     time.Duration // how long a released name is kept from other accounts. Default 24 h.
	UsageRetention time.Duration // how long per-minute usage is kept. Default 30 days.
	SecureCookies  bool          // mark cookies Secure (set when the dashboard is served over TLS)
	ReleasesDir    string        // signed release manifests and binaries served under /releases/; "" disables
	Logger         *slog.Logger

	// now is the clock; tests move it.
	now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = "wsgrok-control-data"
	}
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if c.Quarantine == 0 {
		c.Quarantine = 24 * time.Hour
	}
	if c.UsageRetention == 0 {
		c.UsageRetention = 30 * 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Service is a running control service.
type Service struct {
	cfg  Config
	st   store.Store
	log  *slog.Logger
	keys *keyring
	live *live
	http http.Handler

	stopJanitor chan struct{}
	wg          sync.WaitGroup
}

// New opens the store in cfg.DataDir (migrating it), makes sure a signing
// key and an edge secret exist, and prepares the handlers.
func New(cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	st, err := store.Open(filepath.Join(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, st: st, log: cfg.Logger, live: newLive(), stopJanitor: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.keys, err = loadKeyring(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	if s.cfg.EdgeSecret == "" {
		if s.cfg.EdgeSecret, err = loadOrCreateSecret(filepath.Join(cfg.DataDir, "edge-secret")); err != nil {
			st.Close()
			return nil, err
		}
	}
	s.http = s.routes()
	s.wg.Add(1)
	go s.janitor()
	return s, nil
}

// EdgeSecret returns the secret edges authenticate with.
func (s *Service) EdgeSecret() string { return s.cfg.EdgeSecret }

// Store exposes the store to the embedding program (the dev bootstrap).
func (s *Service) Store() store.Store { return s.st }

// Handler serves the dashboard, the JSON API and the edge API.
func (s *Service) Handler() http.Handler { return s.http }

// Serve serves HTTP on ln until Close.
func (s *Service) Serve(ln net.Listener) error {
	if s.cfg.PublicURL == "" {
		s.cfg.PublicURL = "http://" + ln.Addr().String()
	}
	srv := &http.Server{Handler: s.http, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	go func() {
		<-s.stopJanitor
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops background work and closes the store.
func (s *Service) Close() error {
	select {
	case <-s.stopJanitor:
	default:
		close(s.stopJanitor)
	}
	s.live.close()
	s.wg.Wait()
	return s.st.Close()
}

// janitor prunes expired sessions and old usage.
func (s *Service) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.stopJanitor:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			s.st.DeleteExpiredSessions(ctx)
			s.st.PruneUsage(ctx, s.cfg.now().Add(-s.cfg.UsageRetention))
			cancel()
		}
	}
}

func loadOrCreateSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) >= 32 {
			return s, nil
		}
		return "", fmt.Errorf("wsgrok: control: %s is corrupt: delete it to make a new edge secret (and give it to the edges)", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("wsgrok: control: cannot read %s: %w", path, err)
	}
	secret := randomHex(32)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("wsgrok: control: cannot write %s: %w", path, err)
	}
	return secret, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
