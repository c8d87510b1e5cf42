package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseHeaderDoesNotAllocate(t *testing.T) {
	b := AppendHeader(nil, 5, FrameData, FlagEndStream, 7)
	var h FrameHeader
	allocs := testing.AllocsPerRun(100, func() { h, _ = ParseHeader(b) })
	if allocs != 0 {
		t.Fatalf("ParseHeader allocates %v times", allocs)
	}
	if h != (FrameHeader{Length: 5, Type: FrameData, Flags: FlagEndStream, StreamID: 7}) {
		t.Fatalf("decoded %+v", h)
	}
}

func TestAppendDataDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 1<<10)
	data := bytes.Repeat([]byte{'x'}, 512)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendData(buf[:0], 3, 0, data)
		if _, err := ParseData(FrameHeader{Type: FrameData, StreamID: 3}, buf[HeaderLen:]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("DATA encode+decode allocates %v times", allocs)
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{FrameWindowUpdate.String(), "WINDOW_UPDATE"},
		{FrameType(0x42).String(), "UNKNOWN_FRAME_TYPE_66"},
		{ErrCodeEnhanceYourCalm.String(), "ENHANCE_YOUR_CALM"},
		{ErrCode(0x99).String(), "UNKNOWN_ERR_CODE_153"},
		{FlagString(FrameData, FlagEndStream|FlagCompressed), "END_STREAM|COMPRESSED"},
		{FlagString(FramePing, FlagAck|0x40), "ACK|0x40"},
		{FlagString(FrameType(0x42), 0x01), "0x01"},
		{SettingMaxFrameSize.String(), "MAX_FRAME_SIZE"},
		{SettingID(0x99).String(), "UNKNOWN_SETTING_153"},
		{KindTCP.String(), "tcp"},
		{FrameHeader{Length: 4, Type: FrameReset, StreamID: 2}.String(), "RESET flags=0 stream=2 len=4"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for i := range numErrCodes {
		c, ok := ParseErrCode(ErrCode(i).String())
		if !ok || c != ErrCode(i) {
			t.Errorf("ParseErrCode(%v) = %v, %v", ErrCode(i), c, ok)
		}
	}
}

func TestParseShortBuffer(t *testing.T) {
	full := (&Ping{Data: [8]byte{1}}).Append(nil)
	for n := range len(full) {
		if _, _, err := Parse(full[:n], MinMaxFrameSize); !errors.Is(err, ErrShortBuffer) {
			t.Fatalf("Parse of %d octets: %v, want ErrShortBuffer", n, err)
		}
	}
	if _, n, err := Parse(full, MinMaxFrameSize); err != nil || n != len(full) {
		t.Fatalf("Parse whole: n=%d err=%v", n, err)
	}
}

func TestParseSequence(t *testing.T) {
	// Several frames back to back, the unknown one in the middle skipped by
	// a receiver but decoded and re-encoded whole here.
	frames := []Frame{
		&Data{StreamID: 1, Data: []byte("a")},
		&Unknown{FrameHeader: FrameHeader{Type: 0xfe, StreamID: 0}, Payload: []byte("future")},
		&WindowUpdate{StreamID: 0, Increment: 10},
	}
	var b []byte
	for _, f := range frames {
		b = f.Append(b)
	}
	var out []byte
	for len(b) > 0 {
		f, n, err := Parse(b, MinMaxFrameSize)
		if err != nil {
			t.Fatal(err)
		}
		out = f.Append(out)
		b = b[n:]
	}
	var want []byte
	for _, f := range frames {
		want = f.Append(want)
	}
	if !bytes.Equal(out, want) {
		t.Fatal("sequence did not re-encode to the same bytes")
	}
}

func TestCodeOf(t *testing.T) {
	if CodeOf(nil) != ErrCodeNo {
		t.Fatal("nil")
	}
	if CodeOf(errors.New("x")) != ErrCodeInternal {
		t.Fatal("plain error")
	}
	wrapped := errors.Join(errors.New("ctx"), StreamError{StreamID: 1, Code: ErrCodeCancel})
	if CodeOf(wrapped) != ErrCodeCancel {
		t.Fatal("wrapped stream error")
	}
	if CodeOf(ConnError{Code: ErrCodeTimeout}) != ErrCodeTimeout {
		t.Fatal("conn error")
	}
}

func TestGoAwayDebugCut(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 2000))
	b := (&GoAway{Code: ErrCodeNo, Debug: long}).Append(nil)
	f, _, err := Parse(b, MinMaxFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(f.(*GoAway).Debug); got != MaxGoAwayDebug {
		t.Fatalf("debug %d octets, want %d", got, MaxGoAwayDebug)
	}
}

func TestOpenRemoteAddrLimit(t *testing.T) {
	b := (&Open{StreamID: 2, TunnelID: 1, Kind: KindHTTP, RemoteAddr: string(bytes.Repeat([]byte("1"), 256))}).Append(nil)
	if _, _, err := Parse(b, MinMaxFrameSize); CodeOf(err) != ErrCodeProtocol {
		t.Fatalf("256-octet remote address: %v", err)
	}
}

func TestSettings(t *testing.T) {
	s := DefaultSettings()
	if s.Get(SettingMaxFrameSize) != 16384 || s.Get(SettingHeartbeatInterval) != 5000 || s.Get(0x99) != 0 {
		t.Fatalf("defaults %v", s)
	}
	if len(s.List()) != 0 {
		t.Fatalf("defaults listed: %v", s.List())
	}
	s.Apply([]Setting{{SettingMaxFrameSize, 65536}, {0x99, 1}})
	if l := s.List(); len(l) != 1 || l[0] != (Setting{SettingMaxFrameSize, 65536}) {
		t.Fatalf("List after Apply: %v", l)
	}
	for _, bad := range []Setting{{SettingMaxFrameSize, 16383}, {SettingMaxFrameSize, MaxLength + 1}, {SettingInitialSessionWindow, 65534}, {SettingHeartbeatInterval, 99}, {SettingHeaderTableSize, 65537}, {SettingInitialStreamWindow, MaxWindow + 1}} {
		if CodeOf(bad.Valid()) != ErrCodeProtocol {
			t.Errorf("%v=%d accepted", bad.ID, bad.Value)
		}
	}
	if (Setting{0x99, 1<<32 - 1}).Valid() != nil {
		t.Error("unknown setting refused")
	}
}

func TestMetadata(t *testing.T) {
	m := Metadata{}.Add("url", "a").Add("name", "n").Add("url", "b")
	if m.Get("url") != "a" || m.Get("none") != "" {
		t.Fatal("Get")
	}
	if all := m.All("url"); len(all) != 2 || all[1] != "b" {
		t.Fatalf("All = %v", all)
	}
}
