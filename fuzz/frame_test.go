package fuzz

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wsgrok/wsgrok/wire"
)

// FuzzFrame decodes arbitrary bytes as one frame. Whatever decodes must
// re-encode to exactly the bytes it came from (quic-go FuzzFrames), and what
// a decoded frame holds is bounded by its declared length: no count field
// can make the decoder reserve more than the payload could carry.
func FuzzFrame(f *testing.F) {
	for _, fr := range seedFrames() {
		f.Add(fr.Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const maxFrame = 1 << 16
		fr, n, err := wire.Parse(b, maxFrame)
		if err != nil {
			var ce wire.ConnError
			var se wire.StreamError
			if !errors.Is(err, wire.ErrShortBuffer) && !errors.As(err, &ce) && !errors.As(err, &se) {
				t.Fatalf("error without a protocol code: %v", err)
			}
			return
		}
		if n < wire.HeaderLen || n > len(b) || n-wire.HeaderLen > maxFrame {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		want := b[:n]
		if !keepsFlags(fr.Header().Type) {
			// Spec §4: flags a type does not define are ignored, so they are
			// not kept, and re-encode as zero.
			want = bytes.Clone(want)
			want[4] = 0
		}
		if got := fr.Append(nil); !bytes.Equal(got, want) {
			t.Fatalf("re-encoded %x\nfrom      %x", got, want)
		}
		if fr.Len() != n {
			t.Fatalf("Len %d, consumed %d", fr.Len(), n)
		}
		payload := n - wire.HeaderLen
		switch fr := fr.(type) {
		case *wire.Hello:
			if cap(fr.Versions) > payload/2 || cap(fr.Settings) > payload/6 || cap(fr.Meta) > payload/4 {
				t.Fatalf("HELLO holds %d/%d/%d entries for %d octets", cap(fr.Versions), cap(fr.Settings), cap(fr.Meta), payload)
			}
		case *wire.Open:
			if cap(fr.Meta) > payload/4 {
				t.Fatalf("OPEN holds %d pairs for %d octets", cap(fr.Meta), payload)
			}
		case *wire.Bind:
			if cap(fr.Options) > payload/4 {
				t.Fatalf("BIND holds %d pairs for %d octets", cap(fr.Options), payload)
			}
		case *wire.BindResult:
			if cap(fr.Meta) > payload/4 {
				t.Fatalf("BIND_RESULT holds %d pairs for %d octets", cap(fr.Meta), payload)
			}
		case *wire.Data:
			if fr.Flags.Has(wire.FlagCompressed) {
				out, err := wire.DecompressData(nil, fr.Data, maxFrame)
				if err == nil && len(out) > maxFrame {
					t.Fatalf("decompressed to %d", len(out))
				}
			}
		}
	})
}

// FuzzReader feeds a byte stream to the frame reader: it must never buffer
// more than one largest frame, whatever the stream claims, and a header
// Peek reports is the header the next ReadFrame returns.
func FuzzReader(f *testing.F) {
	var all []byte
	for _, fr := range seedFrames() {
		all = fr.Append(all)
	}
	f.Add(append([]byte(wire.Preface), all...))
	f.Fuzz(func(t *testing.T, b []byte) {
		const maxFrame = 1 << 15
		r := wire.NewReader(bytes.NewReader(b), maxFrame, 0)
		if r.ReadPreface() != nil {
			return
		}
		for {
			peeked, ok := r.Peek()
			h, p, err := r.ReadFrame()
			if ok && h != peeked {
				t.Fatalf("Peek said %v, ReadFrame read %v", peeked, h)
			}
			if err != nil {
				return
			}
			if len(p) != int(h.Length) || h.Length > maxFrame {
				t.Fatalf("payload %d for header %v", len(p), h)
			}
			wire.ParsePayload(h, p)
		}
	})
}

// keepsFlags reports whether frames of type t carry their flags octet
// whole: those that define flags, and unknown types (kept verbatim).
func keepsFlags(t wire.FrameType) bool {
	switch t {
	case wire.FrameData, wire.FrameHeaders, wire.FramePing, wire.FrameHello:
		return true
	}
	return !t.Known()
}
