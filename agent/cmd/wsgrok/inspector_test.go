package main

import (
	"net"
	"testing"
)

// TestInspectorMovesToANearbyPort: when the inspector's port is taken (a
// second agent on the same machine), it listens on one of the next ports;
// with none free it reports the first port's error.
func TestInspectorMovesToANearbyPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0") // an ephemeral port, held
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	first := taken.Addr().(*net.TCPAddr).Port
	ln, err := listenNear(taken.Addr().String(), false, 9)
	if err != nil {
		t.Fatalf("no port near %d: %v", first, err)
	}
	got := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if got <= first || got > first+9 {
		t.Errorf("listened on %d, want one of %d..%d", got, first+1, first+9)
	}
	if _, err := listenNear(taken.Addr().String(), false, 0); err == nil {
		t.Error("a taken port with no others to try: no error")
	}
}
