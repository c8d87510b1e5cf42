package wire

import "github.com/klauspost/compress/s2"

// CompressData appends the S2 block of src to dst and reports whether it is
// smaller than src; when it is not, dst is returned unchanged and the caller
// sends src uncompressed (spec §11.1).
func CompressData(dst, src []byte) ([]byte, bool) {
	if len(src) == 0 {
		return dst, false
	}
	need := s2.MaxEncodedLen(len(src))
	if need < 0 {
		return dst, false
	}
	start := len(dst)
	if cap(dst)-start < need {
		dst = append(dst, make([]byte, need)...)[:start]
	}
	enc := s2.Encode(dst[start:start+need], src)
	if len(enc) >= len(src) {
		return dst[:start], false
	}
	return dst[:start+len(enc)], true
}

// DecompressData decodes an S2 block into dst (reusing its capacity). The
// decoded length is read first and must not exceed limit, the receiver's
// MAX_FRAME_SIZE, so a small block cannot make us allocate a large buffer
// (a decompression bomb).
func DecompressData(dst, block []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, connErr(ErrCodeCompression, "S2 block: %v", err)
	}
	if n > limit {
		return nil, connErr(ErrCodeCompression, "S2 block decodes to %d octets, more than %d", n, limit)
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	out, err := s2.Decode(dst[:n], block)
	if err != nil {
		return nil, connErr(ErrCodeCompression, "S2 block: %v", err)
	}
	return out, nil
}
