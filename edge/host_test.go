package edge

import "testing"

func TestCanonicalHost(t *testing.T) {
	for in, want := range map[string]string{
		"demo.localhost":      "demo.localhost",
		"DEMO.LocalHost":      "demo.localhost",
		"demo.localhost.":     "demo.localhost",
		"demo.localhost:8080": "demo.localhost",
		"Demo.Localhost.:443": "demo.localhost",
		"a-b.example.com":     "a-b.example.com",
	} {
		got, err := CanonicalHost(in)
		if err != nil || got != want {
			t.Errorf("%q -> %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", ":80", "demo..localhost", ".demo.localhost", "demo.localhost:x", "demo.localhost:123456",
		"[::1]:80", "demo_x.localhost", "demo.localhost/evil", "demo.localhost\r\nx", "demo localhost", "démo.localhost", "demo.localhost%00"} {
		if got, err := CanonicalHost(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "demo", "my-app-1", "0", "a23456789012345678901234567890123456789012345678901234567890123"} {
		if !ValidName(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "A", "a.b", "a_b", "a23456789012345678901234567890123456789012345678901234567890123x"} {
		if ValidName(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
