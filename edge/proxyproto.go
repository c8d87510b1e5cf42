package edge

// PROXY protocol version 2 (binary form only), as HAProxy specifies it in
// https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt section 2.2.
// A TLS-terminating load balancer in front of the public ingress prepends
// one such header to each connection to carry the real client address. The
// parser here works on whatever an event loop has buffered so far: it never
// blocks, never allocates on success, and tells "need more bytes" apart from
// "this can never be a header" as early as the bytes allow.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

var (
	// ErrProxyIncomplete means the bytes so far are a proper prefix of a
	// PROXY v2 header: wait for more.
	ErrProxyIncomplete = errors.New("wsgrok: proxy protocol: incomplete header")
	// ErrProxyInvalid means the bytes cannot start a PROXY v2 header we accept.
	ErrProxyInvalid = errors.New("wsgrok: proxy protocol: invalid header")
)

// ProxyHeader is what a PROXY v2 header says.
type ProxyHeader struct {
	Command byte           // 0x0 LOCAL, 0x1 PROXY
	Source  netip.AddrPort // the real client (zero for LOCAL or UNSPEC)
	Dest    netip.AddrPort // the address the client connected to (zero for LOCAL or UNSPEC)
	// TLVs are skipped but length-checked.
}

const (
	proxyV2Sig       = "\r\n\r\n\x00\r\nQUIT\n"
	proxyV2SigLen    = len(proxyV2Sig) // 12
	proxyV2FixedLen  = 16              // signature, ver/cmd, fam/proto, length
	proxyV2MaxLen    = 1024            // our cap on the length field
	proxyV2TLVHdrLen = 3               // type(1) length(2)

	proxyCmdLocal = 0x0
	proxyCmdProxy = 0x1
)

// HasProxyV2Prefix reports whether b starts with (a prefix of) the 12-byte
// v2 signature; used to decide between "wait for more" and "this is plain
// HTTP". An empty b is a prefix of the signature.
func HasProxyV2Prefix(b []byte) bool {
	k := min(len(b), proxyV2SigLen)
	return string(b[:k]) == proxyV2Sig[:k]
}

// ParseProxyV2 parses a PROXY v2 header at the start of b.
// It returns (hdr, n, nil) when a whole header is present (n = bytes consumed),
// (_, 0, ErrProxyIncomplete) when b is a proper prefix of a header (need more bytes),
// and another error (wrapping ErrProxyInvalid) when b cannot be one.
//
// Every field is checked as soon as its bytes are present, so a header that
// is already wrong is reported invalid without waiting for the rest. Only
// TCP over IPv4 (0x11), TCP over IPv6 (0x21) and UNSPEC (0x00) are accepted;
// the length field must cover the family's address block and be at most
// 1024; what follows the address block must be a sequence of TLVs that ends
// exactly at the declared length. IPv4-mapped IPv6 addresses are unmapped.
// For the LOCAL command and for UNSPEC the addresses are left zero.
func ParseProxyV2(b []byte) (ProxyHeader, int, error) {
	var h ProxyHeader
	if !HasProxyV2Prefix(b) {
		return h, 0, fmt.Errorf("%w: bad signature", ErrProxyInvalid)
	}
	if len(b) <= proxyV2SigLen {
		return h, 0, ErrProxyIncomplete
	}
	vc := b[12]
	if v := vc >> 4; v != 2 {
		return h, 0, fmt.Errorf("%w: version %d, want 2", ErrProxyInvalid, v)
	}
	cmd := vc & 0x0f
	if cmd != proxyCmdLocal && cmd != proxyCmdProxy {
		return h, 0, fmt.Errorf("%w: unknown command %#x", ErrProxyInvalid, cmd)
	}
	if len(b) < 14 {
		return h, 0, ErrProxyIncomplete
	}
	fam := b[13]
	var addrLen int
	switch fam {
	case 0x00: // UNSPEC
		addrLen = 0
	case 0x11: // TCP over IPv4
		addrLen = 12
	case 0x21: // TCP over IPv6
		addrLen = 36
	case 0x12, 0x22:
		return h, 0, fmt.Errorf("%w: UDP (family 0x%02x) not supported", ErrProxyInvalid, fam)
	case 0x31, 0x32:
		return h, 0, fmt.Errorf("%w: UNIX (family 0x%02x) not supported", ErrProxyInvalid, fam)
	default:
		return h, 0, fmt.Errorf("%w: unknown family/protocol 0x%02x", ErrProxyInvalid, fam)
	}
	if len(b) < proxyV2FixedLen {
		return h, 0, ErrProxyIncomplete
	}
	l := int(binary.BigEndian.Uint16(b[14:16]))
	if l > proxyV2MaxLen {
		return h, 0, fmt.Errorf("%w: length %d over %d", ErrProxyInvalid, l, proxyV2MaxLen)
	}
	if l < addrLen {
		return h, 0, fmt.Errorf("%w: length %d under the %d-byte address block of family 0x%02x", ErrProxyInvalid, l, addrLen, fam)
	}
	end := proxyV2FixedLen + l

	// Walk the TLVs as far as the buffered bytes go: a TLV that overruns the
	// declared length is invalid whether or not its value has arrived.
	for off := proxyV2FixedLen + addrLen; off < end; {
		if end-off < proxyV2TLVHdrLen {
			return h, 0, fmt.Errorf("%w: %d trailing bytes, too short for a TLV", ErrProxyInvalid, end-off)
		}
		if len(b) < off+proxyV2TLVHdrLen {
			return h, 0, ErrProxyIncomplete
		}
		vl := int(binary.BigEndian.Uint16(b[off+1 : off+3]))
		off += proxyV2TLVHdrLen + vl
		if off > end {
			return h, 0, fmt.Errorf("%w: TLV type 0x%02x of %d bytes overruns the header", ErrProxyInvalid, b[off-vl-proxyV2TLVHdrLen], vl)
		}
	}
	if len(b) < end {
		return h, 0, ErrProxyIncomplete
	}

	h.Command = cmd
	if cmd == proxyCmdProxy {
		a := b[proxyV2FixedLen:]
		switch fam {
		case 0x11:
			src := netip.AddrFrom4([4]byte(a[0:4]))
			dst := netip.AddrFrom4([4]byte(a[4:8]))
			h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(a[8:10]))
			h.Dest = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(a[10:12]))
		case 0x21:
			src := netip.AddrFrom16([16]byte(a[0:16])).Unmap()
			dst := netip.AddrFrom16([16]byte(a[16:32])).Unmap()
			h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(a[32:34]))
			h.Dest = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(a[34:36]))
		}
	}
	return h, end, nil
}

// TrustedNets is a list of CIDRs from which PROXY headers are accepted.
type TrustedNets []netip.Prefix

// ParseTrustedNets parses CIDRs such as "10.0.0.0/8" or "fd00::/8". A bare
// address is taken as a single host (/32 or /128). An IPv4-mapped IPv6
// prefix of /96 or longer is stored as the IPv4 prefix it maps, to match
// Contains, which unmaps addresses. An empty list trusts no one.
func ParseTrustedNets(cidrs []string) (TrustedNets, error) {
	t := make(TrustedNets, 0, len(cidrs))
	for i, s := range cidrs {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		if strings.Contains(s, "/") {
			var err error
			p, err = netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("wsgrok: proxy protocol: trusted net %d %q: %v", i, cidrs[i], err)
			}
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("wsgrok: proxy protocol: trusted net %d %q: not a CIDR or address: %v", i, cidrs[i], err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("wsgrok: proxy protocol: trusted net %d %q: zoned address", i, cidrs[i])
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		t = append(t, p.Masked())
	}
	return t, nil
}

// Contains reports whether a is in one of the nets. IPv4-mapped IPv6
// addresses are unmapped and zones dropped first.
func (t TrustedNets) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
