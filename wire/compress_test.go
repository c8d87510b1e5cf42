package wire

import (
	"bytes"
	"crypto/rand"
	"runtime"
	"testing"

	"github.com/klauspost/compress/s2"
)

func TestCompressRoundTrip(t *testing.T) {
	src := bytes.Repeat([]byte("wsgrok "), 2000)
	block, ok := CompressData(nil, src)
	if !ok || len(block) >= len(src) {
		t.Fatalf("ok=%v len=%d", ok, len(block))
	}
	out, err := DecompressData(nil, block, len(src))
	if err != nil || !bytes.Equal(out, src) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestCompressIncompressible(t *testing.T) {
	src := make([]byte, 4096)
	rand.Read(src)
	prefix := []byte("keep")
	out, ok := CompressData(prefix, src)
	if ok || !bytes.Equal(out, prefix) {
		t.Fatalf("random data compressed: ok=%v len=%d", ok, len(out))
	}
}

func TestDecompressBombRefused(t *testing.T) {
	// 1 MiB of zeros compresses to a few hundred octets; a receiver with a
	// 64 KiB MAX_FRAME_SIZE must refuse it before allocating anything.
	block := s2.Encode(nil, make([]byte, 1<<20))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		if _, err := DecompressData(nil, block, 65536); CodeOf(err) != ErrCodeCompression {
			t.Fatalf("got %v, want COMPRESSION_ERROR", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 100; per > 1024 {
		t.Fatalf("refusing a bomb allocated %d octets each time", per)
	}
}

func TestDecompressGarbage(t *testing.T) {
	if _, err := DecompressData(nil, []byte{0x10, 0xff, 0xff}, 65536); CodeOf(err) != ErrCodeCompression {
		t.Fatalf("got %v", err)
	}
}
