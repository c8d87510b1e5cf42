package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestHeaderListTooLargeKeepsContextInStep(t *testing.T) {
	enc := NewHeaderEncoder(4096)
	dec := NewHeaderDecoder(4096, 200)
	big := []HeaderField{{Name: "x-big", Value: strings.Repeat("v", 150)}, {Name: "x-other", Value: "1"}}
	_, err := dec.Decode(3, enc.AppendBlock(nil, big))
	var se StreamError
	if !errors.As(err, &se) || se.Code != ErrCodeHeaderTooLarge || se.StreamID != 3 {
		t.Fatalf("got %v, want HEADER_TOO_LARGE stream error", err)
	}
	// The next block refers to entries the first one added to the dynamic
	// table; it decodes only if the refused block was decoded anyway.
	small := []HeaderField{{Name: "x-other", Value: "1"}}
	got, err := dec.Decode(5, enc.AppendBlock(nil, small))
	if err != nil || len(got) != 1 || got[0].Value != "1" {
		t.Fatalf("next block: %v %v", got, err)
	}
}

func TestHeaderBlockGarbage(t *testing.T) {
	dec := NewHeaderDecoder(4096, 65536)
	// 0xff... is an indexed field with an index past any table.
	_, err := dec.Decode(1, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	var ce ConnError
	if !errors.As(err, &ce) || ce.Code != ErrCodeCompression {
		t.Fatalf("got %v, want COMPRESSION_ERROR", err)
	}
	// A block cut inside a literal.
	enc := NewHeaderEncoder(4096)
	b := enc.AppendBlock(nil, []HeaderField{{Name: "x-custom", Value: "value"}})
	if _, err := NewHeaderDecoder(4096, 65536).Decode(1, b[:len(b)-2]); CodeOf(err) != ErrCodeCompression {
		t.Fatalf("truncated block: %v", err)
	}
}

func TestHeaderTableSizeUpdate(t *testing.T) {
	// A receiver that announced HEADER_TABLE_SIZE 0 gets blocks that never
	// use the dynamic table.
	enc := NewHeaderEncoder(0)
	dec := NewHeaderDecoder(0, 65536)
	for range 3 {
		got, err := dec.Decode(1, enc.AppendBlock(nil, []HeaderField{{Name: "x-a", Value: "b"}}))
		if err != nil || len(got) != 1 {
			t.Fatalf("%v %v", got, err)
		}
	}
}
