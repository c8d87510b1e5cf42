package wire

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrCode is a protocol error code (spec §13). It travels in RESET, GOAWAY,
// HELLO, BIND_RESULT and UNBIND frames.
type ErrCode uint32

// Error codes, spec §13.
const (
	ErrCodeNo              ErrCode = 0x00
	ErrCodeProtocol        ErrCode = 0x01
	ErrCodeInternal        ErrCode = 0x02
	ErrCodeFlowControl     ErrCode = 0x03
	ErrCodeTimeout         ErrCode = 0x04
	ErrCodeStreamClosed    ErrCode = 0x05
	ErrCodeFrameSize       ErrCode = 0x06
	ErrCodeRefusedStream   ErrCode = 0x07
	ErrCodeCancel          ErrCode = 0x08
	ErrCodeCompression     ErrCode = 0x09
	ErrCodeEnhanceYourCalm ErrCode = 0x0a
	ErrCodeVersionMismatch ErrCode = 0x0b
	ErrCodeUnauthorized    ErrCode = 0x0c
	ErrCodeRevoked         ErrCode = 0x0d
	ErrCodeNameTaken       ErrCode = 0x0e
	ErrCodeNameInvalid     ErrCode = 0x0f
	ErrCodeTunnelLimit     ErrCode = 0x10
	ErrCodeUpstreamRefused ErrCode = 0x11
	ErrCodeUpstreamTimeout ErrCode = 0x12
	ErrCodeHeaderTooLarge  ErrCode = 0x13
	ErrCodeUnknownTunnel   ErrCode = 0x14
	numErrCodes                    = 0x15
)

var errCodeName = [numErrCodes]string{
	ErrCodeNo:              "NO_ERROR",
	ErrCodeProtocol:        "PROTOCOL_ERROR",
	ErrCodeInternal:        "INTERNAL_ERROR",
	ErrCodeFlowControl:     "FLOW_CONTROL_ERROR",
	ErrCodeTimeout:         "TIMEOUT",
	ErrCodeStreamClosed:    "STREAM_CLOSED",
	ErrCodeFrameSize:       "FRAME_SIZE_ERROR",
	ErrCodeRefusedStream:   "REFUSED_STREAM",
	ErrCodeCancel:          "CANCEL",
	ErrCodeCompression:     "COMPRESSION_ERROR",
	ErrCodeEnhanceYourCalm: "ENHANCE_YOUR_CALM",
	ErrCodeVersionMismatch: "VERSION_MISMATCH",
	ErrCodeUnauthorized:    "UNAUTHORIZED",
	ErrCodeRevoked:         "REVOKED",
	ErrCodeNameTaken:       "NAME_TAKEN",
	ErrCodeNameInvalid:     "NAME_INVALID",
	ErrCodeTunnelLimit:     "TUNNEL_LIMIT",
	ErrCodeUpstreamRefused: "UPSTREAM_REFUSED",
	ErrCodeUpstreamTimeout: "UPSTREAM_TIMEOUT",
	ErrCodeHeaderTooLarge:  "HEADER_TOO_LARGE",
	ErrCodeUnknownTunnel:   "UNKNOWN_TUNNEL",
}

func (e ErrCode) String() string {
	if e < numErrCodes {
		return errCodeName[e]
	}
	return "UNKNOWN_ERR_CODE_" + strconv.FormatUint(uint64(e), 10)
}

// ParseErrCode returns the code whose name is s, as in spec §13.
func ParseErrCode(s string) (ErrCode, bool) {
	for i, n := range errCodeName {
		if n == s {
			return ErrCode(i), true
		}
	}
	return 0, false
}

// ConnError is a connection error (spec §9): the whole session is unusable.
type ConnError struct {
	Code   ErrCode
	Reason string
}

func (e ConnError) Error() string {
	return fmt.Sprintf("wsgrok: connection error %v: %s", e.Code, e.Reason)
}

// StreamError is a stream error (spec §9): one stream is reset, the session
// continues.
type StreamError struct {
	StreamID uint32
	Code     ErrCode
	Reason   string
}

func (e StreamError) Error() string {
	return fmt.Sprintf("wsgrok: stream %d error %v: %s", e.StreamID, e.Code, e.Reason)
}

func connErr(code ErrCode, format string, args ...any) error {
	return ConnError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func streamErr(id uint32, code ErrCode, format string, args ...any) error {
	return StreamError{StreamID: id, Code: code, Reason: fmt.Sprintf(format, args...)}
}

// CodeOf returns the protocol error code that err carries, or
// INTERNAL_ERROR when it carries none. A nil err is NO_ERROR.
func CodeOf(err error) ErrCode {
	if err == nil {
		return ErrCodeNo
	}
	var ce ConnError
	if errors.As(err, &ce) {
		return ce.Code
	}
	var se StreamError
	if errors.As(err, &se) {
		return se.Code
	}
	return ErrCodeInternal
}

var (
	// ErrShortBuffer means the buffer holds less than a whole frame; read
	// more and try again.
	ErrShortBuffer = errors.New("wsgrok: short buffer: incomplete frame")
	// ErrBadPreface means the first 8 octets were not the wsgrok preface
	// (spec §3.1): the peer does not speak this protocol.
	ErrBadPreface = errors.New("wsgrok: bad connection preface: the peer is not a wsgrok endpoint")
)
