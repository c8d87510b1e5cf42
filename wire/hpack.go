package wire

import (
	"golang.org/x/net/http2/hpack"
)

// HeaderField is one decoded header field.
type HeaderField = hpack.HeaderField

// HeaderEncoder encodes header lists into HPACK blocks (spec §11.2). One
// encoder serves one direction of a session; blocks must reach the wire in
// the order they were encoded. Not safe for concurrent use.
type HeaderEncoder struct {
	enc *hpack.Encoder
	w   appendWriter
}

const initialHeaderTableSize = 4096

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// NewHeaderEncoder returns an encoder whose dynamic table may grow to
// tableSize, the peer's HEADER_TABLE_SIZE.
func NewHeaderEncoder(tableSize uint32) *HeaderEncoder {
	e := &HeaderEncoder{}
	e.enc = hpack.NewEncoder(&e.w)
	// The table starts at 4096 octets (spec §11.2). A smaller limit makes the
	// encoder announce the smaller size in its first block; a larger one is
	// taken up with a size update too.
	if tableSize != initialHeaderTableSize {
		e.enc.SetMaxDynamicTableSizeLimit(tableSize)
		e.enc.SetMaxDynamicTableSize(tableSize)
	}
	return e
}

// AppendBlock appends the HPACK encoding of fields to dst.
func (e *HeaderEncoder) AppendBlock(dst []byte, fields []HeaderField) []byte {
	e.w.b = dst
	for _, f := range fields {
		e.enc.WriteField(f) // appendWriter never fails
	}
	dst = e.w.b
	e.w.b = nil
	return dst
}

// HeaderDecoder decodes HPACK blocks with limits (spec §11.2). One decoder
// serves one direction of a session and must see every block in arrival
// order. Not safe for concurrent use.
type HeaderDecoder struct {
	dec      *hpack.Decoder
	maxList  uint32
	size     uint32
	tooLarge bool
	fields   []HeaderField
}

// NewHeaderDecoder returns a decoder with a dynamic table of at most
// tableSize (our HEADER_TABLE_SIZE) that refuses header lists larger than
// maxList (our MAX_HEADER_LIST_SIZE).
func NewHeaderDecoder(tableSize, maxList uint32) *HeaderDecoder {
	d := &HeaderDecoder{maxList: maxList}
	// No string limit of our own: a block is at most one frame, which bounds
	// every string (Huffman expands at most 8/5), and a limit that aborts
	// decoding midway would leave the dynamic table out of step, turning a
	// stream error into a connection error.
	d.dec = hpack.NewDecoder(tableSize, d.emit)
	return d
}

func (d *HeaderDecoder) emit(f HeaderField) {
	if d.tooLarge {
		return
	}
	d.size += f.Size()
	if d.size > d.maxList {
		d.tooLarge = true
		d.fields = d.fields[:0]
		d.dec.SetEmitEnabled(false)
		return
	}
	d.fields = append(d.fields, f)
}

// Decode decodes one block of stream id. The result is valid until the next
// call. A malformed block is a COMPRESSION_ERROR connection error; a list
// over the limit is a HEADER_TOO_LARGE stream error, and the block has still
// been decoded so that the dynamic table stays in step (spec §11.2).
func (d *HeaderDecoder) Decode(streamID uint32, block []byte) ([]HeaderField, error) {
	d.fields = d.fields[:0]
	d.size = 0
	d.tooLarge = false
	d.dec.SetEmitEnabled(true)
	if _, err := d.dec.Write(block); err != nil {
		return nil, connErr(ErrCodeCompression, "header block: %v", err)
	}
	if err := d.dec.Close(); err != nil {
		return nil, connErr(ErrCodeCompression, "header block: %v", err)
	}
	if d.tooLarge {
		return nil, streamErr(streamID, ErrCodeHeaderTooLarge, "header list exceeds %d octets", d.maxList)
	}
	return d.fields, nil
}
