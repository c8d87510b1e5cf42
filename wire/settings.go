package wire

import "strconv"

// SettingID identifies a setting carried in HELLO (spec §12).
type SettingID uint16

// Settings, spec §12.
const (
	SettingMaxFrameSize         SettingID = 0x1
	SettingInitialStreamWindow  SettingID = 0x2
	SettingInitialSessionWindow SettingID = 0x3
	SettingMaxConcurrentStreams SettingID = 0x4
	SettingHeartbeatInterval    SettingID = 0x5
	SettingCompression          SettingID = 0x6
	SettingHeaderTableSize      SettingID = 0x7
	SettingMaxHeaderListSize    SettingID = 0x8
	numSettings                           = 0x9
)

// CompressionS2 is the COMPRESSION bit for S2 blocks in DATA (spec §11.1).
const CompressionS2 uint32 = 0x1

type settingInfo struct {
	name     string
	def      uint32
	min, max uint32
}

var settingInfos = [numSettings]settingInfo{
	SettingMaxFrameSize:         {"MAX_FRAME_SIZE", 16384, 16384, MaxLength},
	SettingInitialStreamWindow:  {"INITIAL_STREAM_WINDOW", 262144, 0, MaxWindow},
	SettingInitialSessionWindow: {"INITIAL_SESSION_WINDOW", 1 << 20, 65535, MaxWindow},
	SettingMaxConcurrentStreams: {"MAX_CONCURRENT_STREAMS", 1024, 0, MaxWindow},
	SettingHeartbeatInterval:    {"HEARTBEAT_INTERVAL", 5000, 100, 600000},
	SettingCompression:          {"COMPRESSION", 0, 0, 1<<32 - 1},
	SettingHeaderTableSize:      {"HEADER_TABLE_SIZE", 4096, 0, 65536},
	SettingMaxHeaderListSize:    {"MAX_HEADER_LIST_SIZE", 65536, 0, MaxWindow},
}

func (id SettingID) known() bool { return id > 0 && id < numSettings }

func (id SettingID) String() string {
	if id.known() {
		return settingInfos[id].name
	}
	return "UNKNOWN_SETTING_" + strconv.Itoa(int(id))
}

// Default returns the value a setting has when HELLO does not carry it.
func (id SettingID) Default() uint32 {
	if id.known() {
		return settingInfos[id].def
	}
	return 0
}

// Setting is one identifier/value pair of HELLO.
type Setting struct {
	ID    SettingID
	Value uint32
}

// Valid reports whether a known setting's value is in its range; unknown
// settings are always valid (and ignored, spec §10).
func (s Setting) Valid() error {
	if !s.ID.known() {
		return nil
	}
	in := settingInfos[s.ID]
	if s.Value < in.min || s.Value > in.max {
		return connErr(ErrCodeProtocol, "setting %v=%d outside %d..%d", s.ID, s.Value, in.min, in.max)
	}
	return nil
}

// Settings holds the value of every known setting.
type Settings [numSettings]uint32

// DefaultSettings returns the defaults of spec §12.
func DefaultSettings() Settings {
	var s Settings
	for id := SettingID(1); id < numSettings; id++ {
		s[id] = id.Default()
	}
	return s
}

// Get returns the value of id, or 0 for an unknown setting.
func (s *Settings) Get(id SettingID) uint32 {
	if id.known() {
		return s[id]
	}
	return 0
}

// Apply overwrites the values the list carries; unknown ones are skipped.
func (s *Settings) Apply(list []Setting) {
	for _, st := range list {
		if st.ID.known() {
			s[st.ID] = st.Value
		}
	}
}

// List returns the settings that differ from their defaults, in id order.
func (s *Settings) List() []Setting {
	var l []Setting
	for id := SettingID(1); id < numSettings; id++ {
		if s[id] != id.Default() {
			l = append(l, Setting{id, s[id]})
		}
	}
	return l
}
