package control

import "github.com/wsgrok/wsgrok/control/authtoken"

// MintWithServiceKey signs arbitrary claims with the service's current
// signing key, so that tests can make tokens the API never would (expired
// ones, say).
func (s *Service) MintWithServiceKey(c authtoken.Claims) (string, error) {
	return authtoken.Mint(s.keys.signer(), c)
}
