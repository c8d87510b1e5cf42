package edge

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// proxyHex decodes hex with spaces and newlines between the bytes, so the
// golden headers below can be laid out field by field.
func proxyHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

const proxyTestSig = "0d0a0d0a 000d0a51 5549540a" // \r\n\r\n\x00\r\nQUIT\n

// proxyGolden are whole headers built by hand from the spec.
var proxyGolden = []struct {
	name string
	hex  string
	want ProxyHeader
}{
	{
		name: "ipv4",
		hex: proxyTestSig + `
			21 11 000c
			c0000201 c6336407 d431 01bb`, // 192.0.2.1:54321 -> 198.51.100.7:443
		want: ProxyHeader{
			Command: 1,
			Source:  netip.MustParseAddrPort("192.0.2.1:54321"),
			Dest:    netip.MustParseAddrPort("198.51.100.7:443"),
		},
	},
	{
		name: "ipv6",
		hex: proxyTestSig + `
			21 21 0024
			20010db8000000000000000000000001
			20010db8000000000000000000000002
			c350 0050`, // [2001:db8::1]:50000 -> [2001:db8::2]:80
		want: ProxyHeader{
			Command: 1,
			Source:  netip.MustParseAddrPort("[2001:db8::1]:50000"),
			Dest:    netip.MustParseAddrPort("[2001:db8::2]:80"),
		},
	},
	{
		name: "ipv6-mapped",
		hex: proxyTestSig + `
			21 21 0024
			00000000000000000000ffff0a000005
			00000000000000000000ffff0a000001
			1f90 2710`, // [::ffff:10.0.0.5]:8080 -> [::ffff:10.0.0.1]:10000
		want: ProxyHeader{
			Command: 1,
			Source:  netip.MustParseAddrPort("10.0.0.5:8080"),
			Dest:    netip.MustParseAddrPort("10.0.0.1:10000"),
		},
	},
	{
		name: "local",
		hex:  proxyTestSig + `20 00 0000`,
		want: ProxyHeader{Command: 0},
	},
	{
		name: "local-ipv4-ignored",
		hex: proxyTestSig + `
			20 11 000c
			c0000201 c6336407 d431 01bb`,
		want: ProxyHeader{Command: 0},
	},
	{
		name: "unspec",
		hex:  proxyTestSig + `21 00 0000`,
		want: ProxyHeader{Command: 1},
	},
	{
		name: "unspec-tlv",
		hex: proxyTestSig + `
			21 00 0007
			04 0004 00000000`, // PP2_TYPE_NOOP, 4 bytes
		want: ProxyHeader{Command: 1},
	},
	{
		name: "ipv4-tlvs",
		hex: proxyTestSig + `
			21 11 001d
			0a000001 0a000002 3039 0050
			02 000b 6578616d706c652e636f6d
			04 0000`, // 10.0.0.1:12345 -> 10.0.0.2:80, AUTHORITY "example.com", empty NOOP
		want: ProxyHeader{
			Command: 1,
			Source:  netip.MustParseAddrPort("10.0.0.1:12345"),
			Dest:    netip.MustParseAddrPort("10.0.0.2:80"),
		},
	},
	{
		name: "ipv6-tlv",
		hex: proxyTestSig + `
			21 21 0029
			20010db8000000000000000000000001
			20010db8000000000000000000000002
			c350 0050
			20 0002 0100`, // PP2_TYPE_SSL-ish, 2 bytes
		want: ProxyHeader{
			Command: 1,
			Source:  netip.MustParseAddrPort("[2001:db8::1]:50000"),
			Dest:    netip.MustParseAddrPort("[2001:db8::2]:80"),
		},
	},
	{
		name: "max-length",
		hex: proxyTestSig + `21 11 0400
			c0000201 c6336407 d431 01bb
			04 03f1` + strings.Repeat("00", 1024-12-3),
		want: ProxyHeader{
			Command: 1,
			Source:  netip.MustParseAddrPort("192.0.2.1:54321"),
			Dest:    netip.MustParseAddrPort("198.51.100.7:443"),
		},
	},
}

func TestProxyV2Golden(t *testing.T) {
	for _, tc := range proxyGolden {
		t.Run(tc.name, func(t *testing.T) {
			b := proxyHex(t, tc.hex)
			h, n, err := ParseProxyV2(b)
			if err != nil {
				t.Fatalf("ParseProxyV2: %v", err)
			}
			if n != len(b) {
				t.Fatalf("consumed %d of %d", n, len(b))
			}
			if h != tc.want {
				t.Fatalf("got %+v\nwant %+v", h, tc.want)
			}
			if !HasProxyV2Prefix(b) {
				t.Fatal("HasProxyV2Prefix false on a whole header")
			}
		})
	}
}

func TestProxyV2EveryPrefixIncomplete(t *testing.T) {
	for _, tc := range proxyGolden {
		b := proxyHex(t, tc.hex)
		for i := range len(b) {
			_, n, err := ParseProxyV2(b[:i])
			if err != ErrProxyIncomplete || n != 0 {
				t.Fatalf("%s: prefix of %d/%d: n=%d err=%v, want ErrProxyIncomplete", tc.name, i, len(b), n, err)
			}
			if !HasProxyV2Prefix(b[:i]) {
				t.Fatalf("%s: HasProxyV2Prefix false on prefix of %d", tc.name, i)
			}
		}
	}
}

func TestProxyV2FollowedByHTTP(t *testing.T) {
	hdr := proxyHex(t, proxyGolden[0].hex)
	b := append(hdr[:len(hdr):len(hdr)], "GET / HTTP/1.1\r\nHost: x\r\n\r\n"...)
	h, n, err := ParseProxyV2(b)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(hdr) {
		t.Fatalf("consumed %d, header is %d", n, len(hdr))
	}
	if string(b[n:]) != "GET / HTTP/1.1\r\nHost: x\r\n\r\n" {
		t.Fatalf("rest %q", b[n:])
	}
	if h != proxyGolden[0].want {
		t.Fatalf("got %+v", h)
	}
}

func TestProxyV2Invalid(t *testing.T) {
	ipv4 := `c0000201 c6336407 d431 01bb`
	for _, tc := range []struct {
		name string
		hex  string
	}{
		{"signature-first-byte", `0e0a0d0a 000d0a51 5549540a 21 11 000c ` + ipv4},
		{"signature-last-byte", `0d0a0d0a 000d0a51 5549540b 21 11 000c ` + ipv4},
		{"signature-short", `0d0a0d0a 000d0a52`},
		{"version-1", proxyTestSig + `11 11 000c ` + ipv4},
		{"version-0", proxyTestSig + `01 11 000c ` + ipv4},
		{"version-3", proxyTestSig + `31 11 000c ` + ipv4},
		{"version-1-short", proxyTestSig + `11`},
		{"command-2", proxyTestSig + `22 11 000c ` + ipv4},
		{"command-f", proxyTestSig + `2f 11 000c ` + ipv4},
		{"udp4", proxyTestSig + `21 12 000c ` + ipv4},
		{"udp6", proxyTestSig + `21 22 0024` + strings.Repeat("00", 36)},
		{"unix-stream", proxyTestSig + `21 31 00d8` + strings.Repeat("00", 216)},
		{"unix-dgram", proxyTestSig + `21 32 00d8` + strings.Repeat("00", 216)},
		{"udp-short", proxyTestSig + `21 12`},
		{"family-unknown", proxyTestSig + `21 41 0000`},
		{"protocol-unknown", proxyTestSig + `21 13 000c ` + ipv4},
		{"unspec-stream", proxyTestSig + `21 01 0000`},
		{"ipv4-length-too-small", proxyTestSig + `21 11 000b c0000201 c6336407 d431 01`},
		{"ipv4-length-zero", proxyTestSig + `21 11 0000`},
		{"ipv6-length-too-small", proxyTestSig + `21 21 000c ` + ipv4},
		{"local-ipv4-length-too-small", proxyTestSig + `20 11 0000`},
		{"length-1025", proxyTestSig + `21 11 0401`},
		{"length-ffff", proxyTestSig + `21 00 ffff`},
		{"tlv-overrun", proxyTestSig + `21 11 0012 ` + ipv4 + ` 04 0004 000000`},
		{"tlv-overrun-value-not-yet-here", proxyTestSig + `21 11 0012 ` + ipv4 + ` 04 0100`},
		{"tlv-overrun-second", proxyTestSig + `21 11 0014 ` + ipv4 + ` 04 0000 04 0003 0000`},
		{"tlv-header-truncated", proxyTestSig + `21 11 000e ` + ipv4 + ` 04 00`},
		{"tlv-header-truncated-1", proxyTestSig + `21 00 0001 04`},
		{"tlv-trailing-byte", proxyTestSig + `21 11 0010 ` + ipv4 + ` 04 0000 00`},
		{"unspec-garbage", proxyTestSig + `21 00 0004 0a000001`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := proxyHex(t, tc.hex)
			_, n, err := ParseProxyV2(b)
			if !errors.Is(err, ErrProxyInvalid) {
				t.Fatalf("err = %v, want ErrProxyInvalid", err)
			}
			if n != 0 {
				t.Fatalf("n = %d on error", n)
			}
			if !strings.HasPrefix(err.Error(), "wsgrok: proxy protocol: ") {
				t.Fatalf("message %q", err)
			}
			// More bytes never make an invalid header valid.
			_, _, err = ParseProxyV2(append(b[:len(b):len(b)], make([]byte, 2048)...))
			if !errors.Is(err, ErrProxyInvalid) {
				t.Fatalf("with more bytes: err = %v", err)
			}
		})
	}
}

func TestProxyV2PlainHTTP(t *testing.T) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"GET / HTTP/1.1",
		"G",
		"\r\n\r\nGET",
		"PROXY TCP4 192.0.2.1 198.51.100.7 54321 443\r\n", // v1 is not accepted
	} {
		b := []byte(s)
		if HasProxyV2Prefix(b) {
			t.Errorf("HasProxyV2Prefix(%q) = true", s)
		}
		if _, _, err := ParseProxyV2(b); !errors.Is(err, ErrProxyInvalid) {
			t.Errorf("ParseProxyV2(%q): %v, want ErrProxyInvalid", s, err)
		}
	}
	for _, s := range []string{"", "\r", "\r\n\r\n", "\r\n\r\n\x00\r\nQUIT", "\r\n\r\n\x00\r\nQUIT\n", "\r\n\r\n\x00\r\nQUIT\n\x21"} {
		if !HasProxyV2Prefix([]byte(s)) {
			t.Errorf("HasProxyV2Prefix(%q) = false", s)
		}
	}
}

func TestProxyV2NoAlloc(t *testing.T) {
	for _, tc := range proxyGolden {
		b := proxyHex(t, tc.hex)
		allocs := testing.AllocsPerRun(100, func() {
			if _, _, err := ParseProxyV2(b); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ParseProxyV2(b[:len(b)-1]); err != ErrProxyIncomplete {
				t.Fatal(err)
			}
			if !HasProxyV2Prefix(b) {
				t.Fatal("no prefix")
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations", tc.name, allocs)
		}
	}
}

func TestTrustedNets(t *testing.T) {
	nets, err := ParseTrustedNets([]string{"10.0.0.0/8", " 192.168.1.7 ", "fd00::/8", "::ffff:172.16.0.0/108", "2001:db8::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", true},
		{"11.0.0.1", false},
		{"192.168.1.7", true},
		{"::ffff:192.168.1.7", true},
		{"192.168.1.8", false},
		{"fd12::1", true},
		{"fd12::1%eth0", true},
		{"fe80::1", false},
		{"172.16.5.5", true},
		{"::ffff:172.16.5.5", true},
		{"172.32.0.1", false},
		{"2001:db8::1", true},
		{"2001:db8::2", false},
	} {
		if got := nets.Contains(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Contains(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if nets.Contains(netip.Addr{}) {
		t.Error("Contains(zero Addr) = true")
	}
	var none TrustedNets
	if none.Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("empty TrustedNets contains something")
	}
	if got, err := ParseTrustedNets(nil); err != nil || len(got) != 0 {
		t.Errorf("ParseTrustedNets(nil) = %v, %v", got, err)
	}
}

func TestTrustedNetsBadEntry(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "not-a-net", "", "10.0.0/8", "fe80::1%eth0", "1.2.3.4/-1"} {
		_, err := ParseTrustedNets([]string{"10.0.0.0/8", bad})
		if err == nil {
			t.Errorf("ParseTrustedNets accepted %q", bad)
			continue
		}
		if !strings.Contains(err.Error(), "\""+bad+"\"") || !strings.HasPrefix(err.Error(), "wsgrok: proxy protocol: ") {
			t.Errorf("error %q does not name %q", err, bad)
		}
	}
}
