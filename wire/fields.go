package wire

import "encoding/binary"

// Field is one key/value pair of a metadata list (spec §1).
type Field struct {
	Key, Value string
}

// Metadata is an ordered list of key/value pairs; a key may repeat.
type Metadata []Field

// Get returns the first value of key, or "".
func (m Metadata) Get(key string) string {
	for _, f := range m {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// All returns every value of key, in order.
func (m Metadata) All(key string) []string {
	var vs []string
	for _, f := range m {
		if f.Key == key {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Add returns m with key=value appended.
func (m Metadata) Add(key, value string) Metadata { return append(m, Field{key, value}) }

func (m Metadata) encodedLen() int {
	n := 2
	for _, f := range m {
		n += 4 + len(f.Key) + len(f.Value)
	}
	return n
}

func appendMetadata(b []byte, m Metadata) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
	for _, f := range m {
		b = appendString(b, f.Key)
		b = appendString(b, f.Value)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// payload reads the fields of one frame's payload in order. The first
// shortfall records a FRAME_SIZE_ERROR and every later read returns zero, so
// a parser reads all its fields and checks err once.
type payload struct {
	h   FrameHeader
	b   []byte
	err error
}

func (p *payload) short(what string) {
	if p.err == nil {
		p.err = frameSizeErr(p.h, "payload ends inside %s", what)
	}
	p.b = nil
}

func (p *payload) u8(what string) uint8 {
	if len(p.b) < 1 {
		p.short(what)
		return 0
	}
	v := p.b[0]
	p.b = p.b[1:]
	return v
}

func (p *payload) u16(what string) uint16 {
	if len(p.b) < 2 {
		p.short(what)
		return 0
	}
	v := binary.BigEndian.Uint16(p.b)
	p.b = p.b[2:]
	return v
}

func (p *payload) u32(what string) uint32 {
	if len(p.b) < 4 {
		p.short(what)
		return 0
	}
	v := binary.BigEndian.Uint32(p.b)
	p.b = p.b[4:]
	return v
}

func (p *payload) str(what string) string {
	n := int(p.u16(what))
	if len(p.b) < n {
		p.short(what)
		return ""
	}
	s := string(p.b[:n])
	p.b = p.b[n:]
	return s
}

// meta reads a metadata list. It never allocates room for more pairs than
// the remaining payload could hold (4 octets each at least), so a forged
// count cannot make it allocate beyond the frame's length.
func (p *payload) meta(what string) Metadata {
	n := int(p.u16(what))
	if n == 0 || p.err != nil {
		return nil
	}
	m := make(Metadata, 0, min(n, len(p.b)/4))
	for i := 0; i < n && p.err == nil; i++ {
		k := p.str(what)
		v := p.str(what)
		m = append(m, Field{k, v})
	}
	return m
}

// done reports the first error, or a FRAME_SIZE_ERROR if octets are left
// over (spec §4: a payload longer than its layout allows).
func (p *payload) done() error {
	if p.err != nil {
		return p.err
	}
	if len(p.b) != 0 {
		return frameSizeErr(p.h, "%d octets left over after the last field", len(p.b))
	}
	return nil
}
