package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wsgrok/wsgrok/control/store"
)

// DevSetup is what a development edge prints so that one command gets a
// developer going: a dashboard login and an authtoken for a local agent.
type DevSetup struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	Authtoken string `json:"authtoken"`
	TokenID   string `json:"token_id"`
	Account   store.Account
}

// devSetupFile keeps the development login in the data directory (mode
// 0600), so that restarts print the same password and token.
const devSetupFile = "dev-setup.json"

// EnsureDevSetup makes sure a development account with the given email
// exists with a known password and a live authtoken, creating what is
// missing, and returns them. The password and token are kept in the data
// directory, so that every start prints the same ones until the user
// changes the password or revokes the token in the dashboard (then new
// ones are made). Meant for development edges only: the password is
// stored in clear in the data directory.
func (s *Service) EnsureDevSetup(ctx context.Context, email string) (DevSetup, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	path := filepath.Join(s.cfg.DataDir, devSetupFile)
	var d DevSetup
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &d)
	}
	changed := false
	acct, err := s.st.AccountByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		d = DevSetup{Email: email, Password: randomToken(12)}
		acct, err = s.st.CreateAccount(ctx, store.Account{Email: email, Name: "Developer", PasswordHash: hashPassword(d.Password)})
		if err != nil {
			return DevSetup{}, err
		}
		changed = true
	case err != nil:
		return DevSetup{}, err
	default:
		if ok, _ := checkPassword(acct.PasswordHash, d.Password); d.Email != email || !ok {
			// Someone changed the password (or the file is gone): set a
			// new one, since the old cannot be printed.
			d = DevSetup{Email: email, Password: randomToken(12)}
			acct.PasswordHash = hashPassword(d.Password)
			if err := s.st.UpdateAccount(ctx, acct); err != nil {
				return DevSetup{}, err
			}
			changed = true
		}
	}
	d.Account = acct
	if d.TokenID != "" {
		t, err := s.st.AuthtokenByID(ctx, d.TokenID)
		if err != nil || t.Revoked != nil || t.AccountID != acct.ID {
			d.Authtoken, d.TokenID = "", ""
		}
	}
	if d.Authtoken == "" {
		tok, rec, err := s.CreateAuthtoken(ctx, acct, "development")
		if err != nil {
			return DevSetup{}, err
		}
		d.Authtoken, d.TokenID = tok, rec.ID
		changed = true
	}
	if changed {
		b, _ := json.MarshalIndent(d, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
			return DevSetup{}, fmt.Errorf("wsgrok: control: cannot write %s: %w", path, err)
		}
	}
	return d, nil
}
