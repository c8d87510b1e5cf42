package inspect

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/wsgrok/wsgrok/agent"
)

// Edit changes a request before it is replayed; a nil field keeps what
// was captured. It is the body of POST /api/requests/{id}/replay.
type Edit struct {
	Method *string     `json:"method,omitempty"`
	Path   *string     `json:"path,omitempty"`   // origin form: /path?query
	Header http.Header `json:"header,omitempty"` // replaces the whole header; "Host" sets the Host
	Body   *string     `json:"body,omitempty"`   // text
	// Body64 is the body in standard base64, for binary bodies; it wins
	// over Body.
	Body64 *string `json:"body_base64,omitempty"`
}

// Edit limits.
const (
	maxEditHeaders = 200
	maxPathLen     = 16 << 10
)

// Replay errors a client can act on.
var (
	ErrNotFound = errors.New("wsgrok: no such request: it was cleared or evicted")
	ErrNoAgent  = errors.New("wsgrok: replay is not available: the inspector has no agent")
	ErrBadEdit  = errors.New("wsgrok: bad replay edit")
)

// ParseEdit decodes and validates an Edit from untrusted JSON of at most
// maxBody bytes of request body.
func ParseEdit(b []byte, maxBody int) (Edit, error) {
	var ed Edit
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ed, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ed); err != nil {
		return Edit{}, fmt.Errorf("%w: %v", ErrBadEdit, err)
	}
	if dec.More() {
		return Edit{}, fmt.Errorf("%w: trailing data after the JSON object", ErrBadEdit)
	}
	if ed.Method != nil {
		m := strings.TrimSpace(*ed.Method)
		if !validToken(m) {
			return Edit{}, fmt.Errorf("%w: method %q is not an HTTP token", ErrBadEdit, m)
		}
		ed.Method = &m
	}
	if ed.Path != nil {
		p := strings.TrimSpace(*ed.Path)
		if err := checkPath(p); err != nil {
			return Edit{}, fmt.Errorf("%w: %v", ErrBadEdit, err)
		}
		ed.Path = &p
	}
	if ed.Header != nil {
		n := 0
		clean := http.Header{}
		for k, vs := range ed.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				return Edit{}, fmt.Errorf("%w: header name %q is not valid", ErrBadEdit, k)
			}
			for _, v := range vs {
				if !httpguts.ValidHeaderFieldValue(v) {
					return Edit{}, fmt.Errorf("%w: header %s has a value with control characters", ErrBadEdit, k)
				}
				n++
				clean.Add(k, strings.TrimSpace(v))
			}
		}
		if n > maxEditHeaders {
			return Edit{}, fmt.Errorf("%w: %d header lines; at most %d", ErrBadEdit, n, maxEditHeaders)
		}
		ed.Header = clean
	}
	if ed.Body64 != nil {
		raw, err := base64.StdEncoding.DecodeString(*ed.Body64)
		if err != nil {
			return Edit{}, fmt.Errorf("%w: body_base64: %v", ErrBadEdit, err)
		}
		s := string(raw)
		ed.Body, ed.Body64 = &s, nil
	}
	if ed.Body != nil && len(*ed.Body) > maxBody {
		return Edit{}, fmt.Errorf("%w: body of %d bytes; at most %d", ErrBadEdit, len(*ed.Body), maxBody)
	}
	return ed, nil
}

func validToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !httpguts.IsTokenRune(r) {
			return false
		}
	}
	return true
}

// checkPath accepts an origin-form request target.
func checkPath(p string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("path %q must start with /", p)
	}
	if len(p) > maxPathLen {
		return fmt.Errorf("path of %d bytes; at most %d", len(p), maxPathLen)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f || c == '#' {
			return fmt.Errorf("path has a space, a control character or a fragment at byte %d", i)
		}
	}
	if _, err := url.ParseRequestURI(p); err != nil {
		return fmt.Errorf("path %q: %v", p, errors.Unwrap(err))
	}
	return nil
}

// ReplayOutcome is what a replay did.
type ReplayOutcome struct {
	ID       uint64 `json:"id"` // the new exchange (0 if the agent did not record one)
	ReplayOf uint64 `json:"replay_of"`
	Status   int    `json:"status,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Replay sends exchange id's request to its local service again, edited
// by ed, and returns once the answer is in. The new exchange appears in
// the list marked as a replay of id.
func (i *Inspector) Replay(ctx context.Context, id uint64, ed Edit) (ReplayOutcome, error) {
	e := i.get(id)
	if e == nil {
		return ReplayOutcome{}, ErrNotFound
	}
	a := i.agent.Load()
	if a == nil {
		return ReplayOutcome{}, ErrNoAgent
	}
	rr := e.replayRequest()
	if ed.Method != nil {
		rr.Method = *ed.Method
	}
	if ed.Path != nil {
		rr.Path = *ed.Path
	}
	if ed.Header != nil {
		rr.Header = ed.Header.Clone()
		if h := rr.Header.Get("Host"); h != "" {
			rr.Host = h
		}
	}
	if ed.Body != nil {
		rr.Body = []byte(*ed.Body)
	}
	// What the agent will report, to find it among the exchanges.
	sent := http.Header{}
	for k, vs := range rr.Header {
		switch k = http.CanonicalHeaderKey(k); k {
		case "Content-Length", "Connection", "Transfer-Encoding", "Host":
			continue
		}
		sent[k] = vs
	}
	rr.Header = sent
	p := &pendingReplay{method: rr.Method, path: rr.Path, fingerprint: headerFingerprint(sent), of: id}
	if rr.Method == "" {
		p.method = http.MethodGet
	}
	i.mu.Lock()
	i.pending = append(i.pending, p)
	i.mu.Unlock()

	res, err := a.Replay(ctx, e.tunnel, rr)

	i.mu.Lock()
	for k, q := range i.pending {
		if q == p {
			i.pending = append(i.pending[:k], i.pending[k+1:]...)
			break
		}
	}
	out := ReplayOutcome{ID: p.id, ReplayOf: id, Status: res.Status}
	i.mu.Unlock()
	if err != nil {
		out.Error = err.Error()
	}
	return out, nil
}

// replayRequest is e's request as captured.
func (e *exchange) replayRequest() agent.ReplayRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	rr := agent.ReplayRequest{Method: e.method, Path: e.path, Header: e.reqHeader.Clone(),
		Body: bytes.Clone(e.reqBody.data)}
	switch e.tunnel.HostHeader {
	case "":
		rr.Host = e.host // the local service sees the Host it saw the first time
	case "rewrite":
	default:
		rr.Host = e.tunnel.HostHeader
	}
	// The edge's forwarding headers are kept: they are what the local
	// service saw, and it may depend on them.
	return rr
}
