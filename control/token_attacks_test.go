package control_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsgrok/wsgrok/agent"
	"github.com/wsgrok/wsgrok/control/authtoken"
	"github.com/wsgrok/wsgrok/control/store"
	"github.com/wsgrok/wsgrok/wire"
)

// runAgentOnce runs an agent with tok until it is refused for good (or
// 10 s pass) and returns why it stopped.
func (p *plane) runAgentOnce(t *testing.T, tok, name string) error {
	t.Helper()
	a, err := agent.New(agent.Config{Edge: p.e.AgentAddr.String(), Authtoken: tok, CAFile: p.caFile, ServerName: "localhost",
		Tunnels:    []agent.Tunnel{{Kind: wire.KindHTTP, Upstream: p.backend, Subdomain: name}},
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.Run(ctx)
}

// TestForgedTokensRejectedBeforeAnyStream tries the tokens people forge:
// each is refused at the handshake with the authtoken error, binds no
// name, and never reaches the local service.
func TestForgedTokensRejectedBeforeAnyStream(t *testing.T) {
	p := newPlane(t)
	good, rec, err := p.svc.CreateAuthtoken(t.Context(), p.acct, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	expired, err := p.svc.MintWithServiceKey(authtoken.Claims{TokenID: "expired1", AccountID: p.acct.ID, AccountName: p.acct.Name,
		IssuedAt: time.Now().Add(-2 * time.Hour).Unix(), ExpiresAt: time.Now().Add(-time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := authtoken.NewKey(rec.ID[:4] + "-foreign")
	foreign, err := authtoken.Mint(otherKey, authtoken.Claims{TokenID: "foreign1", AccountID: p.acct.ID, AccountName: p.acct.Name})
	if err != nil {
		t.Fatal(err)
	}
	mid := len(good) / 2
	flip := map[byte]byte{'A': 'B'}[good[mid]]
	if flip == 0 {
		flip = 'A'
	}
	tampered := good[:mid] + string(flip) + good[mid+1:]

	for _, c := range []struct{ name, tok string }{
		{"tampered", tampered},
		{"truncated", good[:len(good)-10]},
		{"expired", expired},
		{"signed by an unknown key", foreign},
		{"not a token", "wsg1_" + strings.Repeat("x", 40)},
	} {
		err := p.runAgentOnce(t, c.tok, "victim")
		if !errors.Is(err, agent.ErrAuth) {
			t.Errorf("%s token: agent ended with %v, want the authtoken refusal", c.name, err)
		}
	}

	if n := len(p.e.Registry().Tunnels()); n != 0 {
		t.Fatalf("refused tokens left %d tunnels bound", n)
	}
	if code := p.get(t, "victim", "/hello"); code != 404 {
		t.Fatalf("the victim name answers %d, want 404 (no such tunnel)", code)
	}

	// A revoked token: it works, is revoked, and then is refused too.
	cancel, done := p.agent(t, good, "victim")
	if err := p.svc.Store().RevokeAuthtoken(t.Context(), p.acct.ID, rec.ID); err != nil {
		t.Fatal(err)
	}
	<-done
	cancel()
	if err := p.runAgentOnce(t, good, "victim"); !errors.Is(err, agent.ErrAuth) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked token: agent ended with %v", err)
	}
	if code := p.get(t, "victim", "/hello"); code == 200 {
		t.Error("the revoked token's tunnel still reaches the local service")
	}
}

// TestOtherAccountCannotBindYourName: a valid token of another account
// cannot take a name you hold, reserved or merely bound; your tunnel keeps
// serving.
func TestOtherAccountCannotBindYourName(t *testing.T) {
	p := newPlane(t)
	mine, _, _ := p.svc.CreateAuthtoken(t.Context(), p.acct, "")
	p.agent(t, mine, "alices")
	bob, err := p.svc.Store().CreateAccount(t.Context(), store.Account{Email: "bob@example.com", Name: "bob", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	bobs, _, _ := p.svc.CreateAuthtoken(t.Context(), bob, "")
	if err := p.runAgentOnce(t, bobs, "alices"); !errors.Is(err, agent.ErrBind) {
		t.Fatalf("bob binding alice's live name: %v", err)
	}
	if code := p.get(t, "alices", "/hello"); code != 200 {
		t.Fatalf("alice's tunnel after bob's attempt: %d", code)
	}
}
