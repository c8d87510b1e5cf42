package wire

import "encoding/binary"

// WindowUpdate is a WINDOW_UPDATE frame (spec §11.5). Stream 0 updates the
// session window.
type WindowUpdate struct {
	StreamID  uint32
	Increment uint32
}

// ParseWindowUpdate validates a WINDOW_UPDATE payload.
func ParseWindowUpdate(h FrameHeader, p []byte) (WindowUpdate, error) {
	if len(p) != 4 {
		return WindowUpdate{}, frameSizeErr(h, "length %d, must be 4", len(p))
	}
	inc := binary.BigEndian.Uint32(p)
	if inc > MaxWindow {
		// Spec §11.5: an increment above 2^31-1 is a connection error.
		return WindowUpdate{}, connErr(ErrCodeProtocol, "WINDOW_UPDATE increment %#x above 2^31-1", inc)
	}
	if inc == 0 {
		// Spec §11.5: a zero increment is a stream error on a stream and a
		// connection error on stream 0 (CVE-2019-9518 family: empty frames
		// that cost the receiver work and grant nothing).
		if h.StreamID == 0 {
			return WindowUpdate{}, connErr(ErrCodeProtocol, "WINDOW_UPDATE with zero increment on the session")
		}
		return WindowUpdate{}, streamErr(h.StreamID, ErrCodeProtocol, "WINDOW_UPDATE with zero increment")
	}
	return WindowUpdate{StreamID: h.StreamID, Increment: inc}, nil
}

func (f *WindowUpdate) Header() FrameHeader {
	return FrameHeader{Length: 4, Type: FrameWindowUpdate, StreamID: f.StreamID}
}
func (f *WindowUpdate) Len() int { return HeaderLen + 4 }
func (f *WindowUpdate) Append(b []byte) []byte {
	return AppendWindowUpdate(b, f.StreamID, f.Increment)
}

// AppendWindowUpdate appends a WINDOW_UPDATE frame.
func AppendWindowUpdate(b []byte, streamID, increment uint32) []byte {
	b = AppendHeader(b, 4, FrameWindowUpdate, 0, streamID)
	return binary.BigEndian.AppendUint32(b, increment)
}
