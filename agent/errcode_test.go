package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/wsgrok/wsgrok/proto"
	"github.com/wsgrok/wsgrok/wire"
)

func TestCode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, dialErr := (&net.Dialer{}).DialContext(context.Background(), "tcp", addr)
	if dialErr == nil {
		t.Skip("something took the port")
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&refusal{kind: ErrAuth, peer: &proto.PeerError{Code: wire.ErrCodeRevoked, Message: "revoked"}}, "ERR_WSGROK_AUTH"},
		{&refusal{kind: ErrBind, peer: &proto.PeerError{Code: wire.ErrCodeNameTaken, Message: "taken"}}, "ERR_WSGROK_BIND_NAME_TAKEN"},
		{fmt.Errorf("wsgrok: edge %s unreachable: %w", addr, dialErr), "ERR_WSGROK_EDGE_UNREACHABLE"},
		{fmt.Errorf("x: %w", &proto.PeerError{Code: wire.ErrCodeProtocol}), "ERR_WSGROK_EDGE_PROTOCOL_ERROR"},
		{fmt.Errorf("%w (x509: unknown authority): pass --ca", ErrEdgeUntrusted), "ERR_WSGROK_EDGE_UNTRUSTED"},
		{errors.New("something else"), "ERR_WSGROK_OTHER"},
		{nil, ""},
	} {
		if got := Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	r := &refusal{kind: ErrBind, peer: &proto.PeerError{Code: wire.ErrCodeNameTaken, Message: "demo.localhost is held by another account"}}
	if r.Error() != "wsgrok: the edge refused a tunnel: demo.localhost is held by another account" {
		t.Errorf("message %q", r.Error())
	}
}
