package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The vectors in spec/vectors are the contract with other implementations.
// `go test ./wire -run Vectors -update` rewrites the well-formed ones from
// the frames below; the expected errors of malformed ones are written by
// hand here and only checked, never derived from the code.
var update = flag.Bool("update", false, "rewrite spec/vectors from the frames in vectors_test.go")

const vectorDir = "../spec/vectors"

type vectorFrame struct {
	Name   string       `json:"name"`
	Hex    string       `json:"hex"`
	Type   string       `json:"type"`
	Flags  uint8        `json:"flags"`
	Stream uint32       `json:"stream"`
	Fields vectorFields `json:"fields"`
}

type vectorFields struct {
	Data       *string     `json:"data,omitempty"`
	Block      *string     `json:"block,omitempty"`
	Payload    *string     `json:"payload,omitempty"`
	Tunnel     *uint32     `json:"tunnel,omitempty"`
	Kind       *uint8      `json:"kind,omitempty"`
	RemoteAddr *string     `json:"remote_addr,omitempty"`
	ErrorCode  *string     `json:"error_code,omitempty"`
	Increment  *uint32     `json:"increment,omitempty"`
	Opaque     *string     `json:"opaque,omitempty"`
	LastStream *uint32     `json:"last_stream,omitempty"`
	Debug      *string     `json:"debug,omitempty"`
	Versions   []uint16    `json:"versions,omitempty"`
	Status     *string     `json:"status,omitempty"`
	Settings   [][2]uint32 `json:"settings,omitempty"`
	Request    *uint32     `json:"request,omitempty"`
	Name       *string     `json:"name,omitempty"`
	Message    *string     `json:"message,omitempty"`
	Metadata   [][2]string `json:"metadata,omitempty"`
	Options    [][2]string `json:"options,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func metaJSON(m Metadata) [][2]string {
	var out [][2]string
	for _, f := range m {
		out = append(out, [2]string{f.Key, f.Value})
	}
	return out
}

func metaFromJSON(m [][2]string) Metadata {
	var out Metadata
	for _, kv := range m {
		out = append(out, Field{kv[0], kv[1]})
	}
	return out
}

func toFields(f Frame) vectorFields {
	switch f := f.(type) {
	case *Data:
		return vectorFields{Data: ptr(hex.EncodeToString(f.Data))}
	case *Headers:
		return vectorFields{Block: ptr(hex.EncodeToString(f.Block))}
	case *Open:
		return vectorFields{Tunnel: &f.TunnelID, Kind: ptr(uint8(f.Kind)), RemoteAddr: &f.RemoteAddr, Metadata: metaJSON(f.Meta)}
	case *Reset:
		return vectorFields{ErrorCode: ptr(f.Code.String())}
	case *WindowUpdate:
		return vectorFields{Increment: &f.Increment}
	case *Ping:
		return vectorFields{Opaque: ptr(hex.EncodeToString(f.Data[:]))}
	case *GoAway:
		return vectorFields{LastStream: &f.LastStreamID, ErrorCode: ptr(f.Code.String()), Debug: &f.Debug}
	case *Hello:
		v := vectorFields{Versions: f.Versions, Status: ptr(f.Status.String()), Metadata: metaJSON(f.Meta)}
		for _, s := range f.Settings {
			v.Settings = append(v.Settings, [2]uint32{uint32(s.ID), s.Value})
		}
		return v
	case *Bind:
		return vectorFields{Request: &f.RequestID, Kind: ptr(uint8(f.Kind)), Name: &f.Name, Options: metaJSON(f.Options)}
	case *BindResult:
		return vectorFields{Request: &f.RequestID, ErrorCode: ptr(f.Code.String()), Tunnel: &f.TunnelID, Message: &f.Message, Metadata: metaJSON(f.Meta)}
	case *Unbind:
		return vectorFields{Tunnel: &f.TunnelID, ErrorCode: ptr(f.Code.String()), Message: &f.Message}
	case *Unknown:
		return vectorFields{Payload: ptr(hex.EncodeToString(f.Payload))}
	}
	panic(fmt.Sprintf("no vector fields for %T", f))
}

func unhex(t testing.TB, s *string) []byte {
	t.Helper()
	if s == nil {
		return nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(*s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", *s, err)
	}
	return b
}

func code(t testing.TB, s *string) ErrCode {
	t.Helper()
	c, ok := ParseErrCode(deref(s))
	if !ok {
		t.Fatalf("unknown error code %q", deref(s))
	}
	return c
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// fromFields builds the frame a vector describes, independently of Parse.
func fromFields(t testing.TB, v vectorFrame) Frame {
	t.Helper()
	fl := v.Fields
	flags := Flags(v.Flags)
	switch v.Type {
	case "DATA":
		return &Data{StreamID: v.Stream, Flags: flags, Data: unhex(t, fl.Data)}
	case "HEADERS":
		return &Headers{StreamID: v.Stream, Flags: flags, Block: unhex(t, fl.Block)}
	case "OPEN":
		return &Open{StreamID: v.Stream, TunnelID: deref(fl.Tunnel), Kind: StreamKind(deref(fl.Kind)), RemoteAddr: deref(fl.RemoteAddr), Meta: metaFromJSON(fl.Metadata)}
	case "RESET":
		return &Reset{StreamID: v.Stream, Code: code(t, fl.ErrorCode)}
	case "WINDOW_UPDATE":
		return &WindowUpdate{StreamID: v.Stream, Increment: deref(fl.Increment)}
	case "PING":
		p := &Ping{Flags: flags}
		copy(p.Data[:], unhex(t, fl.Opaque))
		return p
	case "GOAWAY":
		return &GoAway{LastStreamID: deref(fl.LastStream), Code: code(t, fl.ErrorCode), Debug: deref(fl.Debug)}
	case "HELLO":
		h := &Hello{Flags: flags, Versions: fl.Versions, Status: code(t, fl.Status), Meta: metaFromJSON(fl.Metadata)}
		for _, s := range fl.Settings {
			h.Settings = append(h.Settings, Setting{SettingID(s[0]), s[1]})
		}
		return h
	case "BIND":
		return &Bind{RequestID: deref(fl.Request), Kind: StreamKind(deref(fl.Kind)), Name: deref(fl.Name), Options: metaFromJSON(fl.Options)}
	case "BIND_RESULT":
		return &BindResult{RequestID: deref(fl.Request), Code: code(t, fl.ErrorCode), TunnelID: deref(fl.Tunnel), Message: deref(fl.Message), Meta: metaFromJSON(fl.Metadata)}
	case "UNBIND":
		return &Unbind{TunnelID: deref(fl.Tunnel), Code: code(t, fl.ErrorCode), Message: deref(fl.Message)}
	}
	if strings.HasPrefix(v.Type, "UNKNOWN_FRAME_TYPE_") {
		var n int
		fmt.Sscanf(v.Type, "UNKNOWN_FRAME_TYPE_%d", &n)
		return &Unknown{FrameHeader: FrameHeader{Type: FrameType(n), Flags: flags, StreamID: v.Stream}, Payload: unhex(t, fl.Payload)}
	}
	t.Fatalf("vector %q: unknown type %q", v.Name, v.Type)
	return nil
}

// spacedHex writes a frame as "LLLLLL TT FF SSSSSSSS payload" for readers.
func spacedHex(b []byte) string {
	s := hex.EncodeToString(b)
	out := s[0:6] + " " + s[6:8] + " " + s[8:10] + " " + s[10:18]
	if len(s) > 18 {
		out += " " + s[18:]
	}
	return out
}

// goodFrames are the well-formed vectors, one or more per frame type.
func goodFrames() []struct {
	name string
	f    Frame
} {
	return []struct {
		name string
		f    Frame
	}{
		{"DATA hello", &Data{StreamID: 2, Data: []byte("hello")}},
		{"DATA empty with END_STREAM (half-close)", &Data{StreamID: 2, Flags: FlagEndStream}},
		{"DATA compressed (S2 block of 64 x 'a')", &Data{StreamID: 3, Flags: FlagCompressed | FlagEndStream, Data: mustCompress(bytes.Repeat([]byte("a"), 64))}},
		{"DATA with an unknown flag 0x80 (kept, ignored)", &Data{StreamID: 4, Flags: 0x80, Data: []byte{0}}},
		{"HEADERS GET / (see headers.json)", &Headers{StreamID: 2, Flags: FlagEndStream, Block: mustBlock([]HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: "demo.localhost"}, {Name: ":path", Value: "/"}})}},
		{"OPEN HTTP stream", &Open{StreamID: 2, TunnelID: 7, Kind: KindHTTP, RemoteAddr: "203.0.113.9:52100", Meta: Metadata{{"proto", "HTTP/1.1"}, {"tls", "1"}}}},
		{"OPEN TCP stream, no metadata", &Open{StreamID: 4, TunnelID: 8, Kind: KindTCP, RemoteAddr: "[2001:db8::1]:443"}},
		{"RESET CANCEL", &Reset{StreamID: 2, Code: ErrCodeCancel}},
		{"RESET UPSTREAM_REFUSED", &Reset{StreamID: 6, Code: ErrCodeUpstreamRefused}},
		{"WINDOW_UPDATE stream", &WindowUpdate{StreamID: 2, Increment: 131072}},
		{"WINDOW_UPDATE session, largest increment", &WindowUpdate{StreamID: 0, Increment: MaxWindow}},
		{"PING", &Ping{Data: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}},
		{"PING ACK", &Ping{Flags: FlagAck, Data: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}},
		{"GOAWAY drain", &GoAway{LastStreamID: 0, Code: ErrCodeNo, Debug: "edge shutting down"}},
		{"GOAWAY revoked", &GoAway{LastStreamID: 9, Code: ErrCodeRevoked, Debug: "authtoken revoked"}},
		{"HELLO client", &Hello{Versions: []uint16{1}, Settings: []Setting{{SettingMaxFrameSize, 65536}, {SettingInitialSessionWindow, 16 << 20}, {SettingCompression, CompressionS2}}, Meta: Metadata{{"authtoken", "tok"}, {"agent", "wsgrok/0.1.0"}}}},
		{"HELLO client, unknown setting 0x99 (ignored)", &Hello{Versions: []uint16{2, 1}, Settings: []Setting{{0x99, 7}}}},
		{"HELLO server ACK", &Hello{Flags: FlagAck, Versions: []uint16{1}, Settings: []Setting{{SettingMaxFrameSize, 65536}}, Meta: Metadata{{"account", "alice"}}}},
		{"HELLO server refusal", &Hello{Flags: FlagAck, Versions: []uint16{1}, Status: ErrCodeUnauthorized, Meta: Metadata{{"message", "authtoken expired: create a new one in the dashboard"}}}},
		{"BIND http with options", &Bind{RequestID: 1, Kind: KindHTTP, Name: "demo", Options: Metadata{{"host-header", "localhost"}, {"allow-cidr", "10.0.0.0/8"}}}},
		{"BIND tcp, any port", &Bind{RequestID: 2, Kind: KindTCP}},
		{"BIND_RESULT success", &BindResult{RequestID: 1, TunnelID: 7, Meta: Metadata{{"url", "https://demo.localhost"}, {"url", "http://demo.localhost"}, {"name", "demo"}}}},
		{"BIND_RESULT NAME_TAKEN", &BindResult{RequestID: 1, Code: ErrCodeNameTaken, Message: "demo is held by another account"}},
		{"UNBIND", &Unbind{TunnelID: 7, Code: ErrCodeNo, Message: "released"}},
		{"unknown frame type 0x42 (discarded)", &Unknown{FrameHeader: FrameHeader{Type: 0x42, Flags: 0x3, StreamID: 5}, Payload: []byte{0xde, 0xad}}},
	}
}

func mustCompress(b []byte) []byte {
	out, ok := CompressData(nil, b)
	if !ok {
		panic("incompressible")
	}
	return out
}

func mustBlock(fields []HeaderField) []byte {
	return NewHeaderEncoder(4096).AppendBlock(nil, fields)
}

type malformedVector struct {
	Name         string `json:"name"`
	Hex          string `json:"hex"`
	MaxFrameSize uint32 `json:"max_frame_size"`
	Error        string `json:"error"`
	Scope        string `json:"scope"` // "connection" or "stream"
}

// malformed are written by hand: the bytes and the error the spec names.
var malformed = []malformedVector{
	{"frame longer than MAX_FRAME_SIZE (checked from the header)", "004001 00 00 00000001", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"reserved stream identifier (high bit set)", "000000 00 00 80000001", 16384, "PROTOCOL_ERROR", "connection"},
	{"DATA on stream 0", "000001 00 00 00000000 ff", 16384, "PROTOCOL_ERROR", "connection"},
	{"HEADERS on stream 0", "000001 01 00 00000000 82", 16384, "PROTOCOL_ERROR", "connection"},
	{"OPEN on stream 0", "000009 02 00 00000000 00000007 01 0000 0000", 16384, "PROTOCOL_ERROR", "connection"},
	{"OPEN payload ends inside remote address", "000008 02 00 00000002 00000007 01 0005 61", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"OPEN with an octet left over", "00000a 02 00 00000002 00000007 01 0000 0000 00", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"OPEN metadata count larger than the payload", "000009 02 00 00000002 00000007 01 0000 ffff", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"RESET on stream 0", "000004 03 00 00000000 00000008", 16384, "PROTOCOL_ERROR", "connection"},
	{"RESET of length 3", "000003 03 00 00000002 000008", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"WINDOW_UPDATE zero increment on a stream", "000004 04 00 00000002 00000000", 16384, "PROTOCOL_ERROR", "stream"},
	{"WINDOW_UPDATE zero increment on the session", "000004 04 00 00000000 00000000", 16384, "PROTOCOL_ERROR", "connection"},
	{"WINDOW_UPDATE increment above 2^31-1", "000004 04 00 00000002 80000000", 16384, "PROTOCOL_ERROR", "connection"},
	{"WINDOW_UPDATE of length 5", "000005 04 00 00000002 0000000100", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"PING on a stream", "000008 05 00 00000001 0102030405060708", 16384, "PROTOCOL_ERROR", "connection"},
	{"PING of length 7", "000007 05 00 00000000 01020304050607", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"GOAWAY shorter than 8", "000004 06 00 00000000 00000000", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"GOAWAY on a stream", "000008 06 00 00000001 00000000 00000000", 16384, "PROTOCOL_ERROR", "connection"},
	{"GOAWAY last stream above 2^31-1", "000008 06 00 00000000 80000000 00000000", 16384, "PROTOCOL_ERROR", "connection"},
	{"HELLO with no version", "000009 07 00 00000000 00 00000000 0000 0000", 16384, "PROTOCOL_ERROR", "connection"},
	{"HELLO from a client with a status", "00000b 07 00 00000000 01 0001 0000000c 0000 0000", 16384, "PROTOCOL_ERROR", "connection"},
	{"HELLO with MAX_FRAME_SIZE below 16384", "000011 07 00 00000000 01 0001 00000000 0001 0001 00001000 0000", 16384, "PROTOCOL_ERROR", "connection"},
	{"HELLO with a setting twice", "000017 07 00 00000000 01 0001 00000000 0002 0005 00001388 0005 00001388 0000", 16384, "PROTOCOL_ERROR", "connection"},
	{"HELLO version count larger than the payload", "000009 07 00 00000000 05 0001 00000000 0000", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"HELLO on a stream", "00000b 07 00 00000001 01 0001 00000000 0000 0000", 16384, "PROTOCOL_ERROR", "connection"},
	{"BIND with an octet left over", "00000a 08 00 00000000 00000001 01 0000 0000 00", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"BIND name longer than the payload", "000008 08 00 00000000 00000001 01 0010 00", 16384, "FRAME_SIZE_ERROR", "connection"},
	{"BIND_RESULT success without a tunnel", "000010 09 00 00000000 00000001 00000000 00000000 0000 0000", 16384, "PROTOCOL_ERROR", "connection"},
	{"BIND_RESULT failure with a tunnel", "000010 09 00 00000000 00000001 0000000e 00000007 0000 0000", 16384, "PROTOCOL_ERROR", "connection"},
	{"UNBIND on a stream", "00000a 0a 00 00000003 00000007 00000000 0000", 16384, "PROTOCOL_ERROR", "connection"},
	{"UNBIND shorter than its fields", "000006 0a 00 00000000 00000007 0000", 16384, "FRAME_SIZE_ERROR", "connection"},
}

type headerVector struct {
	Name      string    `json:"name"`
	TableSize uint32    `json:"table_size"`
	Blocks    []hvBlock `json:"blocks"`
}

type hvBlock struct {
	Hex    string      `json:"hex"`
	Fields [][2]string `json:"fields"`
}

func goodHeaderLists() []struct {
	name  string
	lists [][]HeaderField
} {
	get := []HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: "demo.localhost"}, {Name: ":path", Value: "/"}}
	post := []HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: "demo.localhost"}, {Name: ":path", Value: "/hooks/github?x=1"},
		{Name: "content-type", Value: "application/json"}, {Name: "x-github-event", Value: "push"}, {Name: "x-forwarded-for", Value: "203.0.113.9"}}
	resp := []HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "text/plain; charset=utf-8"}, {Name: "content-length", Value: "5"}}
	return []struct {
		name  string
		lists [][]HeaderField
	}{
		{"request GET /", [][]HeaderField{get}},
		{"response 200", [][]HeaderField{resp}},
		{"two requests on one connection (the second uses the dynamic table)", [][]HeaderField{post, post}},
	}
}

func writeJSON(t *testing.T, name string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vectorDir, name), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, name string, v any) {
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestVectorsUpdate(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite spec/vectors")
	}
	var frames []vectorFrame
	for _, g := range goodFrames() {
		h := g.f.Header()
		frames = append(frames, vectorFrame{Name: g.name, Hex: spacedHex(g.f.Append(nil)), Type: h.Type.String(), Flags: uint8(h.Flags), Stream: h.StreamID, Fields: toFields(g.f)})
	}
	writeJSON(t, "frames.json", frames)
	writeJSON(t, "malformed.json", malformed)
	var hvs []headerVector
	for _, g := range goodHeaderLists() {
		enc := NewHeaderEncoder(4096)
		hv := headerVector{Name: g.name, TableSize: 4096}
		for _, l := range g.lists {
			var fs [][2]string
			for _, f := range l {
				fs = append(fs, [2]string{f.Name, f.Value})
			}
			hv.Blocks = append(hv.Blocks, hvBlock{Hex: hex.EncodeToString(enc.AppendBlock(nil, l)), Fields: fs})
		}
		hvs = append(hvs, hv)
	}
	writeJSON(t, "headers.json", hvs)
}

func TestVectorsFrames(t *testing.T) {
	var vs []vectorFrame
	readJSON(t, "frames.json", &vs)
	if len(vs) < int(numFrameTypes) {
		t.Fatalf("only %d frame vectors; want every type", len(vs))
	}
	seen := map[string]bool{}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			raw := unhex(t, &v.Hex)
			f, n, err := Parse(raw, MaxLength)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if n != len(raw) {
				t.Fatalf("consumed %d of %d octets", n, len(raw))
			}
			h := f.Header()
			if got := (vectorFrame{Type: h.Type.String(), Flags: uint8(h.Flags), Stream: h.StreamID, Fields: toFields(f)}); !reflect.DeepEqual(got.Fields, v.Fields) || got.Type != v.Type || got.Flags != v.Flags || got.Stream != v.Stream {
				gj, _ := json.Marshal(got)
				t.Fatalf("decoded %s\nwant type=%s flags=%d stream=%d fields=%+v", gj, v.Type, v.Flags, v.Stream, v.Fields)
			}
			want := fromFields(t, v)
			if enc := want.Append(nil); !bytes.Equal(enc, raw) {
				t.Fatalf("encoded fields to\n%s\nwant\n%s", spacedHex(enc), spacedHex(raw))
			}
			if want.Len() != len(raw) {
				t.Fatalf("Len() = %d, want %d", want.Len(), len(raw))
			}
			seen[v.Type] = true
		})
	}
	for ft := FrameType(0); ft < numFrameTypes; ft++ {
		if !seen[ft.String()] {
			t.Errorf("no vector for %v", ft)
		}
	}
}

func TestVectorsMalformed(t *testing.T) {
	var vs []malformedVector
	readJSON(t, "malformed.json", &vs)
	if !reflect.DeepEqual(vs, malformed) {
		t.Fatalf("spec/vectors/malformed.json differs from the table in vectors_test.go; run with -update")
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			raw := unhex(t, &v.Hex)
			// A vector is a whole frame, or a bare header whose fault the
			// header alone shows; its Length must say so.
			if h, _ := ParseHeader(raw); len(raw) != HeaderLen && HeaderLen+int(h.Length) != len(raw) {
				t.Fatalf("vector declares length %d but carries %d payload octets", h.Length, len(raw)-HeaderLen)
			}
			_, _, err := Parse(raw, v.MaxFrameSize)
			want, _ := ParseErrCode(v.Error)
			var ce ConnError
			var se StreamError
			switch {
			case errors.As(err, &ce):
				if v.Scope != "connection" || ce.Code != want {
					t.Fatalf("got connection error %v (%v), want %s error %s", ce.Code, err, v.Scope, v.Error)
				}
			case errors.As(err, &se):
				if v.Scope != "stream" || se.Code != want {
					t.Fatalf("got stream error %v (%v), want %s error %s", se.Code, err, v.Scope, v.Error)
				}
			default:
				t.Fatalf("got %v, want %s error %s", err, v.Scope, v.Error)
			}
		})
	}
}

func TestVectorsHeaders(t *testing.T) {
	var vs []headerVector
	readJSON(t, "headers.json", &vs)
	if len(vs) == 0 {
		t.Fatal("no header vectors")
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			dec := NewHeaderDecoder(v.TableSize, 65536)
			enc := NewHeaderEncoder(v.TableSize)
			for i, b := range v.Blocks {
				raw := unhex(t, &b.Hex)
				got, err := dec.Decode(1, raw)
				if err != nil {
					t.Fatalf("block %d: %v", i, err)
				}
				var gotKV [][2]string
				for _, f := range got {
					gotKV = append(gotKV, [2]string{f.Name, f.Value})
				}
				if !reflect.DeepEqual(gotKV, b.Fields) {
					t.Fatalf("block %d decoded %v, want %v", i, gotKV, b.Fields)
				}
				var in []HeaderField
				for _, kv := range b.Fields {
					in = append(in, HeaderField{Name: kv[0], Value: kv[1]})
				}
				if e := enc.AppendBlock(nil, in); !bytes.Equal(e, raw) {
					t.Fatalf("block %d encoded %x, want %x", i, e, raw)
				}
			}
		})
	}
}
