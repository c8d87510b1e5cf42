package edge

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wsgrok/wsgrok/control/api"
	"github.com/wsgrok/wsgrok/control/authtoken"
	"github.com/wsgrok/wsgrok/wire"
)

// controlClient keeps an edge in step with the control service: it pulls
// signing keys, revocations, reserved names and policies about once a
// second, and pushes usage, live tunnels and request events. Nothing on
// the request path waits for it: tokens verify against the synced keys,
// and policies apply from the synced copy.
type controlClient struct {
	url, secret, name string
	hc                *http.Client
	e                 *Edge
	v                 *authtoken.Verifier
	interval          time.Duration

	mu       sync.Mutex
	revision int64
	synced   chan struct{} // closed after the first successful sync
	lastErr  error
}

func newControlClient(e *Edge, url, secret, name string, interval time.Duration) *controlClient {
	return &controlClient{
		url: url, secret: secret, name: name, e: e, interval: interval,
		hc:     &http.Client{Timeout: 10 * time.Second},
		v:      authtoken.NewVerifier(),
		synced: make(chan struct{}),
	}
}

// Authenticate verifies a token against the synced keys and revocations.
func (c *controlClient) Authenticate(token string) (Identity, error) {
	select {
	case <-c.synced:
	default:
		return Identity{}, errors.New("this edge has not reached its control service yet: retry in a moment")
	}
	cl, err := c.v.Verify(token, time.Now())
	if err != nil {
		return Identity{}, err
	}
	return Identity{Account: cl.AccountID, AccountName: cl.AccountName, TokenID: cl.TokenID}, nil
}

// run syncs and reports every interval until ctx ends; a final report
// flushes what is left.
func (c *controlClient) run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.syncOnce(ctx)
		c.report(ctx)
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			c.report(fctx)
			cancel()
			return
		case <-t.C:
		}
	}
}

func (c *controlClient) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.secret)
	req.Header.Set("Content-Type", "application/json")
	return c.hc.Do(req)
}

// syncOnce pulls and applies what changed since the last revision.
func (c *controlClient) syncOnce(ctx context.Context) error {
	c.mu.Lock()
	since := c.revision
	c.mu.Unlock()
	resp, err := c.do(ctx, "GET", api.PathSync+"?since="+strconv.FormatInt(since, 10), nil)
	if err != nil {
		return c.fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return c.fail(fmt.Errorf("control service answered %s: %s", resp.Status, bytes.TrimSpace(b)))
	}
	var s api.Sync
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&s); err != nil {
		return c.fail(fmt.Errorf("malformed sync: %w", err))
	}
	c.apply(s)
	c.mu.Lock()
	c.revision = s.Revision
	c.lastErr = nil
	c.mu.Unlock()
	select {
	case <-c.synced:
	default:
		close(c.synced)
	}
	return nil
}

func (c *controlClient) fail(err error) error {
	c.mu.Lock()
	first := c.lastErr == nil
	c.lastErr = err
	c.mu.Unlock()
	if first {
		c.e.log.Warn("control service unreachable; serving from the last sync", "err", err)
	}
	return err
}

func (c *controlClient) apply(s api.Sync) {
	keys := make([]authtoken.PublicKey, 0, len(s.Keys))
	for _, k := range s.Keys {
		if len(k.Key) == ed25519.PublicKeySize {
			keys = append(keys, authtoken.PublicKey{ID: k.ID, Key: ed25519.PublicKey(k.Key)})
		}
	}
	c.v.SetKeys(keys...)
	if len(s.Revoked) > 0 {
		c.v.Revoke(s.Revoked...)
		for _, id := range s.Revoked {
			if n := c.e.agents.closeToken(id, wire.ErrCodeRevoked, "authtoken revoked in the dashboard: create a new one and run `wsgrok config add-authtoken`"); n > 0 {
				c.e.log.Info("revoked token: sessions closed", "sessions", n)
			}
		}
	}
	for _, n := range s.Names {
		c.e.reg.setReserved(n)
	}
	for i := range s.Policies {
		c.e.reg.setControlPolicy(&s.Policies[i])
	}
}

// report pushes usage, tunnels and events; on failure the usage is kept
// for the next attempt.
func (c *controlClient) report(ctx context.Context) {
	usage, events := c.e.fwd.usage.drain()
	rep := api.Report{Edge: c.name, Usage: usage, Events: events, Tunnels: c.e.liveTunnels()}
	body, err := json.Marshal(rep)
	if err != nil {
		return
	}
	resp, err := c.do(ctx, "POST", api.PathReport, bytes.NewReader(body))
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			err = fmt.Errorf("control service answered %s", resp.Status)
		}
	}
	if err != nil {
		c.e.fwd.usage.restore(usage)
		c.fail(err)
	}
}

// liveTunnels describes every tunnel and the agents serving it.
func (e *Edge) liveTunnels() []api.Tunnel {
	var out []api.Tunnel
	for _, t := range e.reg.Tunnels() {
		at := api.Tunnel{Name: t.Name, Account: t.Account, Kind: t.Kind.String(), URLs: e.urls(t), Offline: t.offlineSince()}
		for _, b := range *t.binds.Load() {
			s := b.sess.s
			at.Agents = append(at.Agents, api.Agent{Remote: b.sess.remote, Version: s.PeerMeta().Get("agent"),
				Since: b.sess.since, RTT: s.RTT(), Streams: s.NumStreams(), TokenID: b.sess.id.TokenID})
		}
		out = append(out, at)
	}
	return out
}
