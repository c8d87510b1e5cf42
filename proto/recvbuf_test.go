package proto

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestRecvBufKeepsOrderAndReturnsChunks(t *testing.T) {
	var b recvBuf
	var want, got bytes.Buffer
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		if r.IntN(2) == 0 {
			n := r.IntN(3 * recvChunk)
			if r.IntN(3) == 0 {
				n = r.IntN(2 * smallChunk) // the small first chunk, and past it
			}
			p := make([]byte, n)
			for i := range p {
				p[i] = byte(r.Uint32())
			}
			b.write(p)
			want.Write(p)
		} else {
			p := make([]byte, r.IntN(2*recvChunk)+1)
			n := b.read(p)
			got.Write(p[:n])
		}
		if b.n != want.Len()-got.Len() {
			t.Fatalf("n = %d, want %d", b.n, want.Len()-got.Len())
		}
		if max := (b.n+recvChunk-1)/recvChunk + 2; len(b.chunks) > max { // + a small first chunk
			t.Fatalf("%d chunks hold %d octets", len(b.chunks), b.n)
		}
	}
	rest := make([]byte, b.n)
	got.Write(rest[:b.read(rest)])
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("read back different octets")
	}
	if len(b.chunks) != 0 || b.held() != 0 {
		t.Fatalf("drained buffer still holds %d chunks", len(b.chunks))
	}
	b.write(nil)
	if b.held() != 0 {
		t.Fatalf("an empty write pins %d octets of chunks", b.held())
	}
	b.write(make([]byte, 100))
	if b.held() != smallChunk {
		t.Fatalf("100 octets pin %d octets of chunks, want %d", b.held(), smallChunk)
	}
	if n := b.reset(); n != 100 || b.n != 0 || len(b.chunks) != 0 {
		t.Fatalf("reset discarded %d, left %d in %d chunks", n, b.n, len(b.chunks))
	}
}

// BenchmarkRecvBuf is one DATA frame in and one reader's Read out: it
// must not allocate in steady state.
func BenchmarkRecvBuf(b *testing.B) {
	var rb recvBuf
	frame := make([]byte, 16<<10)
	out := make([]byte, 32<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		rb.write(frame)
		if rb.n >= len(out) {
			rb.read(out)
		}
	}
}
