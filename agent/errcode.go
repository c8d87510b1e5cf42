package agent

import (
	"errors"
	"net"

	"github.com/wsgrok/wsgrok/proto"
)

// Code returns the stable code of an error the agent reports, for people
// to search and scripts to match: "ERR_WSGROK_AUTH" for a refused
// authtoken, "ERR_WSGROK_BIND" for a refused tunnel (with the edge's own
// code after it, e.g. "ERR_WSGROK_BIND_NAME_TAKEN"),
// "ERR_WSGROK_EDGE_UNREACHABLE", "ERR_WSGROK_EDGE_UNTRUSTED",
// "ERR_WSGROK_EDGE_<CODE>" for any other error code the edge sent, and
// "ERR_WSGROK_OTHER" for the rest. Codes never change meaning.
func Code(err error) string {
	var pe *proto.PeerError
	hasPeer := errors.As(err, &pe)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrAuth):
		return "ERR_WSGROK_AUTH"
	case errors.Is(err, ErrBind):
		if hasPeer {
			return "ERR_WSGROK_BIND_" + pe.Code.String()
		}
		return "ERR_WSGROK_BIND"
	}
	if errors.Is(err, ErrEdgeUntrusted) {
		return "ERR_WSGROK_EDGE_UNTRUSTED"
	}
	if hasPeer {
		return "ERR_WSGROK_EDGE_" + pe.Code.String()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "ERR_WSGROK_EDGE_UNREACHABLE"
	}
	return "ERR_WSGROK_OTHER"
}

// refusal is the edge refusing the authtoken or a tunnel: kind (ErrAuth or
// ErrBind) with the edge's own words and code.
type refusal struct {
	kind error
	peer *proto.PeerError
}

func (r *refusal) Error() string   { return r.kind.Error() + ": " + r.peer.Message }
func (r *refusal) Unwrap() []error { return []error{r.kind, r.peer} }
