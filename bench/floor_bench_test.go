package bench

import (
	"crypto/aes"
	"crypto/cipher"
	"net"
	"strconv"
	"testing"

	"github.com/wsgrok/wsgrok/proto/prototest"
)

// BenchmarkFloor measures, per 64 KiB op (the unit of BenchmarkMux's bulk
// scenarios), the costs that no multiplexer over TLS on loopback can
// avoid, so that the mux figures can be read against a floor:
//
//   - loopback/write=N: one loopback TCP hop, writer and reader in this
//     process, 64 KiB sent in writes of N octets and read in 256 KiB
//     reads. A plain tls.Conn makes one write(2) per record, so a
//     multiplexer on one sends 64 KiB as four 16 KiB writes at best.
//   - tls/write=64KiB: the same over a plain tls.Conn (TLS 1.3), with
//     nothing above it: one 64 KiB Write per op. This is the ceiling for
//     any multiplexer on a tls.Conn: frames, streams and goroutines only
//     add to it.
//   - aes-gcm/seal and /open: AES-128-GCM (TLS 1.3's first suite) over
//     four 16 KiB records, what each side of a TLS connection spends on
//     64 KiB.
//
// cpu-us/op is the whole process's getrusage CPU per op, as in BenchmarkMux.
func BenchmarkFloor(b *testing.B) {
	for _, w := range []int{16 << 10, 64 << 10, 256 << 10} {
		b.Run("loopback/write="+kib(w), func(b *testing.B) {
			client, server := prototest.TCP(b)
			benchOneWay(b, client, server, w)
		})
	}
	b.Run("tls/write=64KiB", func(b *testing.B) {
		client, server := prototest.TLS(b)
		benchOneWay(b, client, server, chunkSize)
	})
	blk, err := aes.NewCipher(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, g.NonceSize())
	rec := make([]byte, 16<<10)
	sealed := g.Seal(nil, nonce, rec, nil)
	out := make([]byte, 0, len(sealed))
	b.Run("aes-gcm/seal", func(b *testing.B) {
		b.SetBytes(chunkSize)
		b.ReportAllocs()
		m := startCost()
		for b.Loop() {
			for range chunkSize / len(rec) {
				out = g.Seal(out[:0], nonce, rec, nil)
			}
		}
		m.report(b)
	})
	b.Run("aes-gcm/open", func(b *testing.B) {
		b.SetBytes(chunkSize)
		b.ReportAllocs()
		m := startCost()
		for b.Loop() {
			for range chunkSize / len(rec) {
				if out, err = g.Open(out[:0], nonce, sealed, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		m.report(b)
	})
}

func kib(n int) string { return strconv.Itoa(n>>10) + "KiB" }

// benchOneWay sends b.N × 64 KiB from client to server in writes of w
// octets and waits until the server's reader has all of it.
func benchOneWay(b *testing.B, client, server net.Conn, w int) {
	done := make(chan int64, 1)
	go func() {
		var n int64
		buf := make([]byte, 256<<10)
		for {
			k, err := server.Read(buf)
			n += int64(k)
			if err != nil {
				break
			}
		}
		done <- n
	}()
	buf := make([]byte, w)
	b.SetBytes(chunkSize)
	b.ReportAllocs()
	m := startCost()
	var sent int64
	for b.Loop() {
		for k := 0; k < chunkSize; k += w {
			n, err := client.Write(buf[:min(w, chunkSize-k)])
			if err != nil {
				b.Fatal(err)
			}
			sent += int64(n)
		}
	}
	client.(interface{ CloseWrite() error }).CloseWrite() // *net.TCPConn and *tls.Conn
	if got := <-done; got != sent {
		b.Fatalf("reader got %d octets, sent %d", got, sent)
	}
	m.report(b)
}
