package wire

import "encoding/binary"

// MaxGoAwayDebug bounds GOAWAY's Debug Data (spec §11.7).
const MaxGoAwayDebug = 1024

// GoAway is a GOAWAY frame (spec §11.7).
type GoAway struct {
	LastStreamID uint32
	Code         ErrCode
	Debug        string
}

// ParseGoAway validates a GOAWAY payload.
func ParseGoAway(h FrameHeader, p []byte) (GoAway, error) {
	if err := requireSession(h); err != nil {
		return GoAway{}, err
	}
	if len(p) < 8 || len(p) > 8+MaxGoAwayDebug {
		return GoAway{}, frameSizeErr(h, "length %d, must be 8 to %d", len(p), 8+MaxGoAwayDebug)
	}
	f := GoAway{
		LastStreamID: binary.BigEndian.Uint32(p),
		Code:         ErrCode(binary.BigEndian.Uint32(p[4:])),
		Debug:        string(p[8:]),
	}
	if f.LastStreamID > MaxStreamID {
		return GoAway{}, connErr(ErrCodeProtocol, "GOAWAY last stream identifier %#x above 2^31-1", f.LastStreamID)
	}
	return f, nil
}

func (f *GoAway) Header() FrameHeader {
	return FrameHeader{Length: uint32(8 + len(f.Debug)), Type: FrameGoAway}
}
func (f *GoAway) Len() int { return HeaderLen + 8 + len(f.Debug) }

// Append encodes the frame; Debug is cut to MaxGoAwayDebug octets.
func (f *GoAway) Append(b []byte) []byte {
	debug := f.Debug
	if len(debug) > MaxGoAwayDebug {
		debug = debug[:MaxGoAwayDebug]
	}
	b = AppendHeader(b, 8+len(debug), FrameGoAway, 0, 0)
	b = binary.BigEndian.AppendUint32(b, f.LastStreamID)
	b = binary.BigEndian.AppendUint32(b, uint32(f.Code))
	return append(b, debug...)
}
