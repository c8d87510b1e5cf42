package proto

import (
	"errors"
	"fmt"

	"github.com/wsgrok/wsgrok/wire"
)

var (
	// ErrSessionClosed is returned by operations on a session that has
	// ended; the error that ended it is Session.Err.
	ErrSessionClosed = errors.New("wsgrok: session closed")
	// ErrGoAway means the session is draining (GOAWAY sent or received):
	// open the stream on another session.
	ErrGoAway = errors.New("wsgrok: session is going away; open streams elsewhere")
	// ErrStreamLimit means the peer's MAX_CONCURRENT_STREAMS is reached.
	ErrStreamLimit = errors.New("wsgrok: peer's concurrent stream limit reached")
	// ErrStreamIDsExhausted means this session has used every stream id.
	ErrStreamIDsExhausted = errors.New("wsgrok: stream identifiers exhausted; open a new session")
	// ErrWriteClosed is returned by writes after CloseWrite.
	ErrWriteClosed = errors.New("wsgrok: write on a stream closed for writing")
	// ErrHeaderTooLarge means a header block would not fit in one frame of
	// the peer's MAX_FRAME_SIZE (spec §11.2).
	ErrHeaderTooLarge = errors.New("wsgrok: header block larger than the peer's MAX_FRAME_SIZE")
)

// PeerError is an error the peer reported: a refused handshake, a GOAWAY
// with an error, a RESET of a stream, or a failed BIND.
type PeerError struct {
	Code    wire.ErrCode
	Message string
}

func (e *PeerError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("wsgrok: peer: %v", e.Code)
	}
	return fmt.Sprintf("wsgrok: peer: %v: %s", e.Code, e.Message)
}

// ResetError is returned by a stream's Read and Write after the stream was
// reset, by the peer (Remote) or by us.
type ResetError struct {
	Code   wire.ErrCode
	Remote bool
}

func (e *ResetError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by peer"
	}
	return fmt.Sprintf("wsgrok: stream reset %s: %v", who, e.Code)
}
