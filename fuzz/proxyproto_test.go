package fuzz

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/wsgrok/wsgrok/edge"
)

// proxyV2Seeds are whole PROXY v2 headers: TCP over IPv4 and IPv6 (one
// IPv4-mapped), LOCAL, UNSPEC, with and without TLVs.
func proxyV2Seeds() [][]byte {
	const sig = "\r\n\r\n\x00\r\nQUIT\n"
	hdr := func(verCmd, fam byte, body ...byte) []byte {
		b := append([]byte(sig), verCmd, fam, 0, 0)
		binary.BigEndian.PutUint16(b[14:], uint16(len(body)))
		return append(b, body...)
	}
	ipv4 := []byte{192, 0, 2, 1, 198, 51, 100, 7, 0xd4, 0x31, 0x01, 0xbb}
	ipv6 := []byte{
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		0xc3, 0x50, 0x00, 0x50,
	}
	mapped := []byte{
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 5,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1,
		0x1f, 0x90, 0x27, 0x10,
	}
	tlvs := []byte{0x02, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 0x04, 0x00, 0x00}
	cat := func(a, b []byte) []byte { return append(append([]byte(nil), a...), b...) }
	return [][]byte{
		hdr(0x21, 0x11, ipv4...),
		hdr(0x21, 0x21, ipv6...),
		hdr(0x21, 0x21, mapped...),
		hdr(0x20, 0x00),
		hdr(0x20, 0x11, ipv4...),
		hdr(0x21, 0x00),
		hdr(0x21, 0x00, 0x04, 0x00, 0x02, 0, 0),
		hdr(0x21, 0x11, cat(ipv4, tlvs)...),
		hdr(0x21, 0x21, cat(ipv6, tlvs)...),
		cat(hdr(0x21, 0x11, ipv4...), []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
	}
}

// FuzzProxyV2 parses arbitrary bytes as a PROXY v2 header, as the ingress
// does with whatever a connection has buffered. A header is whole, a proper
// prefix of one, or invalid, and which one it is depends only on the bytes
// present: a whole header parses the same alone or with more bytes after it,
// every shorter prefix of it is incomplete, and more bytes never rescue an
// invalid one. What is consumed is bounded by the 1024-byte length cap.
func FuzzProxyV2(f *testing.F) {
	for _, b := range proxyV2Seeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := edge.ParseProxyV2(b)
		switch {
		case err == nil:
		case errors.Is(err, edge.ErrProxyIncomplete):
			if err != edge.ErrProxyIncomplete {
				t.Fatalf("incomplete wrapped: %v", err)
			}
			if n != 0 {
				t.Fatalf("n = %d when incomplete", n)
			}
			// Stronger than "has the prefix or is under 16 bytes": the
			// signature is checked on whatever part of it is present.
			if !edge.HasProxyV2Prefix(b) {
				t.Fatalf("incomplete on bytes that cannot start a header: %x", b)
			}
			if len(b) >= 16+1024 {
				t.Fatalf("incomplete after %d bytes, over the cap", len(b))
			}
			return
		case errors.Is(err, edge.ErrProxyInvalid):
			if n != 0 {
				t.Fatalf("n = %d when invalid", n)
			}
			more := append(b[:len(b):len(b)], make([]byte, 64)...)
			if _, _, err2 := edge.ParseProxyV2(more); !errors.Is(err2, edge.ErrProxyInvalid) {
				t.Fatalf("invalid %x became %v with more bytes", b, err2)
			}
			return
		default:
			t.Fatalf("error wraps neither sentinel: %v", err)
		}

		if n > len(b) || n < 16 || n-16 > 1024 {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		if !edge.HasProxyV2Prefix(b) {
			t.Fatalf("parsed a header without the signature: %x", b[:n])
		}
		if h.Command > 1 {
			t.Fatalf("command %#x", h.Command)
		}
		if h.Command == 0 && (h.Source.IsValid() || h.Dest.IsValid()) {
			t.Fatalf("LOCAL with addresses %+v", h)
		}
		if h.Source.IsValid() && h.Source.Addr().Is4In6() {
			t.Fatalf("source %v left mapped", h.Source)
		}
		h2, n2, err2 := edge.ParseProxyV2(b[:n])
		if err2 != nil || n2 != n || h2 != h {
			t.Fatalf("re-parse of b[:n]: %+v %d %v, first %+v %d", h2, n2, err2, h, n)
		}
		for _, k := range []int{0, 1, 11, 12, 13, 14, 15, 16, n / 2, n - 3, n - 1} {
			if k < 0 || k >= n {
				continue
			}
			if _, m, err := edge.ParseProxyV2(b[:k]); err != edge.ErrProxyIncomplete || m != 0 {
				t.Fatalf("prefix %d of a %d-byte header: %d %v", k, n, m, err)
			}
		}
	})
}
