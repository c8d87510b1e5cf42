// Package wire is the codec of the wsgrok tunnel protocol (spec/PROTOCOL.md):
// frame header, frame types, encoders and validating decoders, HPACK header
// blocks and S2 DATA compression. It has no goroutines and no sockets.
package wire

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Preface is sent by each endpoint before anything else (spec §3.1).
const Preface = "\x89WSG\r\n\x1a\n"

// Version is the protocol version this package implements.
const Version uint16 = 1

// Frame header layout (spec §4).
const (
	HeaderLen = 9

	offLength   = 0 // 24 bits
	offType     = 3
	offFlags    = 4
	offStreamID = 5 // 32 bits

	// MaxStreamID is the largest valid stream identifier; larger values are
	// reserved (spec §4).
	MaxStreamID = 1<<31 - 1
	// MaxLength is the largest Length a header can express.
	MaxLength = 1<<24 - 1
	// MinMaxFrameSize is the smallest MAX_FRAME_SIZE, and the limit before
	// the handshake completes (spec §3.2).
	MinMaxFrameSize = 16384
	// MaxWindow is the largest flow-control window (spec §6).
	MaxWindow = 1<<31 - 1
)

// FrameType identifies a frame's type (spec §11).
type FrameType uint8

// Frame types, spec §11.
const (
	FrameData         FrameType = 0x00
	FrameHeaders      FrameType = 0x01
	FrameOpen         FrameType = 0x02
	FrameReset        FrameType = 0x03
	FrameWindowUpdate FrameType = 0x04
	FramePing         FrameType = 0x05
	FrameGoAway       FrameType = 0x06
	FrameHello        FrameType = 0x07
	FrameBind         FrameType = 0x08
	FrameBindResult   FrameType = 0x09
	FrameUnbind       FrameType = 0x0a
	numFrameTypes               = 0x0b
)

var frameTypeName = [numFrameTypes]string{
	FrameData:         "DATA",
	FrameHeaders:      "HEADERS",
	FrameOpen:         "OPEN",
	FrameReset:        "RESET",
	FrameWindowUpdate: "WINDOW_UPDATE",
	FramePing:         "PING",
	FrameGoAway:       "GOAWAY",
	FrameHello:        "HELLO",
	FrameBind:         "BIND",
	FrameBindResult:   "BIND_RESULT",
	FrameUnbind:       "UNBIND",
}

func (t FrameType) String() string {
	if t < numFrameTypes {
		return frameTypeName[t]
	}
	return "UNKNOWN_FRAME_TYPE_" + strconv.Itoa(int(t))
}

// Known reports whether t is a frame type of this version.
func (t FrameType) Known() bool { return t < numFrameTypes }

// Flags are a frame's flag bits; their meaning depends on the frame type.
type Flags uint8

// Frame flags, spec §11.
const (
	FlagEndStream  Flags = 0x01 // DATA, HEADERS
	FlagCompressed Flags = 0x02 // DATA
	FlagAck        Flags = 0x01 // PING, HELLO
)

// Has reports whether f has every bit of v set.
func (f Flags) Has(v Flags) bool { return f&v == v }

var flagNames = [numFrameTypes]map[Flags]string{
	FrameData:    {FlagEndStream: "END_STREAM", FlagCompressed: "COMPRESSED"},
	FrameHeaders: {FlagEndStream: "END_STREAM"},
	FramePing:    {FlagAck: "ACK"},
	FrameHello:   {FlagAck: "ACK"},
}

// FlagString names the flags f as they read on a frame of type t.
func FlagString(t FrameType, f Flags) string {
	if f == 0 {
		return "0"
	}
	var parts []string
	for bit := Flags(1); bit != 0; bit <<= 1 {
		if !f.Has(bit) {
			continue
		}
		var name string
		if t.Known() {
			name = flagNames[t][bit]
		}
		if name == "" {
			name = fmt.Sprintf("0x%02x", uint8(bit))
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, "|")
}

// FrameHeader is the fixed 9-octet header of every frame (spec §4).
type FrameHeader struct {
	Length   uint32 // payload length, 24 bits
	Type     FrameType
	Flags    Flags
	StreamID uint32
}

func (h FrameHeader) String() string {
	return fmt.Sprintf("%v flags=%s stream=%d len=%d", h.Type, FlagString(h.Type, h.Flags), h.StreamID, h.Length)
}

// ParseHeader decodes a frame header from the first HeaderLen octets of b.
// It does not allocate. It returns ErrShortBuffer when b is shorter than a
// header, and a PROTOCOL_ERROR for a reserved stream identifier.
func ParseHeader(b []byte) (FrameHeader, error) {
	if len(b) < HeaderLen {
		return FrameHeader{}, ErrShortBuffer
	}
	h := FrameHeader{
		Length:   uint32(b[offLength])<<16 | uint32(b[offLength+1])<<8 | uint32(b[offLength+2]),
		Type:     FrameType(b[offType]),
		Flags:    Flags(b[offFlags]),
		StreamID: binary.BigEndian.Uint32(b[offStreamID:]),
	}
	if h.StreamID > MaxStreamID {
		// Spec §4: values above 2^31-1 are reserved.
		return h, connErr(ErrCodeProtocol, "reserved stream identifier %#x", h.StreamID)
	}
	return h, nil
}

// AppendHeader appends the encoded header to b.
func AppendHeader(b []byte, length int, t FrameType, f Flags, streamID uint32) []byte {
	return append(b,
		byte(length>>16), byte(length>>8), byte(length),
		byte(t), byte(f),
		byte(streamID>>24), byte(streamID>>16), byte(streamID>>8), byte(streamID))
}

// Frame is a decoded frame of any type.
type Frame interface {
	// Header returns the frame's header, with Length set.
	Header() FrameHeader
	// Append appends the encoded frame, header and payload, to b.
	Append(b []byte) []byte
	// Len returns the encoded length, header included.
	Len() int
}

// parsers dispatches on the frame type (x/net/http2 frameParsers). Each
// parser validates the payload against the rules of its frame's section.
var parsers = [numFrameTypes]func(FrameHeader, []byte) (Frame, error){
	FrameData:         func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseData(h, p); return &f, err },
	FrameHeaders:      func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseHeaders(h, p); return &f, err },
	FrameOpen:         func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseOpen(h, p); return &f, err },
	FrameReset:        func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseReset(h, p); return &f, err },
	FrameWindowUpdate: func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseWindowUpdate(h, p); return &f, err },
	FramePing:         func(h FrameHeader, p []byte) (Frame, error) { f, err := ParsePing(h, p); return &f, err },
	FrameGoAway:       func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseGoAway(h, p); return &f, err },
	FrameHello:        func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseHello(h, p); return &f, err },
	FrameBind:         func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseBind(h, p); return &f, err },
	FrameBindResult:   func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseBindResult(h, p); return &f, err },
	FrameUnbind:       func(h FrameHeader, p []byte) (Frame, error) { f, err := ParseUnbind(h, p); return &f, err },
}

// Parse decodes the frame at the start of b and returns it with the number
// of octets it used. maxFrameSize is the receiver's MAX_FRAME_SIZE: a longer
// Length is a FRAME_SIZE_ERROR, detected from the header alone. A frame of
// unknown type decodes to *Unknown, which a receiver discards (spec §10).
// Returned frames alias b.
func Parse(b []byte, maxFrameSize uint32) (Frame, int, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, 0, err
	}
	if h.Length > maxFrameSize {
		return nil, 0, connErr(ErrCodeFrameSize, "%v frame of %d octets exceeds MAX_FRAME_SIZE %d", h.Type, h.Length, maxFrameSize)
	}
	n := HeaderLen + int(h.Length)
	if len(b) < n {
		return nil, 0, ErrShortBuffer
	}
	f, err := ParsePayload(h, b[HeaderLen:n])
	if err != nil {
		return nil, 0, err
	}
	return f, n, nil
}

// ParsePayload decodes a frame whose header has already been read.
func ParsePayload(h FrameHeader, payload []byte) (Frame, error) {
	if !h.Type.Known() {
		return &Unknown{FrameHeader: h, Payload: payload}, nil
	}
	f, err := parsers[h.Type](h, payload)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Unknown is a frame of a type this version does not define. Receivers
// ignore it (spec §10); it is kept whole so that it re-encodes exactly.
type Unknown struct {
	FrameHeader
	Payload []byte
}

func (f *Unknown) Header() FrameHeader {
	h := f.FrameHeader
	h.Length = uint32(len(f.Payload))
	return h
}
func (f *Unknown) Len() int { return HeaderLen + len(f.Payload) }
func (f *Unknown) Append(b []byte) []byte {
	b = AppendHeader(b, len(f.Payload), f.Type, f.Flags, f.StreamID)
	return append(b, f.Payload...)
}

// requireStream enforces the stream rule of frames that belong on a stream.
func requireStream(h FrameHeader) error {
	if h.StreamID == 0 {
		return connErr(ErrCodeProtocol, "%v frame on stream 0", h.Type)
	}
	return nil
}

// requireSession enforces the stream rule of frames that belong on stream 0.
func requireSession(h FrameHeader) error {
	if h.StreamID != 0 {
		return connErr(ErrCodeProtocol, "%v frame on stream %d, must be 0", h.Type, h.StreamID)
	}
	return nil
}

func frameSizeErr(h FrameHeader, format string, args ...any) error {
	return connErr(ErrCodeFrameSize, "%v: %s", h.Type, fmt.Sprintf(format, args...))
}
