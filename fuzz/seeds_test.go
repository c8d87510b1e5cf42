package fuzz

import (
	"github.com/wsgrok/wsgrok/wire"
)

// seedFrames returns one well-formed frame of every type, and a few edge
// cases, as the seed corpus of the frame and session targets.
func seedFrames() []wire.Frame {
	enc := wire.NewHeaderEncoder(4096)
	block := enc.AppendBlock(nil, []wire.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "demo.localhost"}, {Name: ":path", Value: "/hooks"},
		{Name: "content-type", Value: "application/json"},
	})
	compressed, _ := wire.CompressData(nil, []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
	return []wire.Frame{
		&wire.Data{StreamID: 1, Data: []byte("hello")},
		&wire.Data{StreamID: 1, Flags: wire.FlagEndStream},
		&wire.Data{StreamID: 1, Flags: wire.FlagCompressed, Data: compressed},
		&wire.Headers{StreamID: 1, Flags: wire.FlagEndStream, Block: block},
		&wire.Open{StreamID: 1, TunnelID: 1, Kind: wire.KindHTTP, RemoteAddr: "203.0.113.9:5000", Meta: wire.Metadata{{Key: "proto", Value: "HTTP/1.1"}}},
		&wire.Reset{StreamID: 1, Code: wire.ErrCodeCancel},
		&wire.WindowUpdate{StreamID: 0, Increment: 65536},
		&wire.WindowUpdate{StreamID: 1, Increment: 1},
		&wire.Ping{Data: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		&wire.Ping{Flags: wire.FlagAck},
		&wire.GoAway{LastStreamID: 1, Code: wire.ErrCodeNo, Debug: "bye"},
		&wire.Hello{Versions: []uint16{1}, Settings: []wire.Setting{{ID: wire.SettingMaxFrameSize, Value: 65536}}, Meta: wire.Metadata{{Key: "authtoken", Value: "x"}}},
		&wire.Hello{Flags: wire.FlagAck, Versions: []uint16{1}, Status: wire.ErrCodeUnauthorized},
		&wire.Bind{RequestID: 1, Kind: wire.KindHTTP, Name: "demo", Options: wire.Metadata{{Key: "basic-auth", Value: "u:p"}}},
		&wire.BindResult{RequestID: 1, TunnelID: 7, Meta: wire.Metadata{{Key: "url", Value: "https://demo.localhost"}}},
		&wire.BindResult{RequestID: 1, Code: wire.ErrCodeNameTaken, Message: "taken"},
		&wire.Unbind{TunnelID: 7, Code: wire.ErrCodeNo, Message: "done"},
		&wire.Unknown{FrameHeader: wire.FrameHeader{Type: 0x42, Flags: 0xff, StreamID: 3}, Payload: []byte("x")},
	}
}
