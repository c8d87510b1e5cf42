// Package api holds the types of the control service's edge API: what an
// edge pulls (keys, revocations, reserved names, policies) and what it
// pushes (usage, live tunnels, request events). It is JSON over HTTPS,
// authenticated with the edge secret, so edges need no Go state of the
// control service.
package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Paths of the edge API.
const (
	PathSync   = "/api/edge/sync"   // GET ?since=REVISION → Sync
	PathReport = "/api/edge/report" // POST Report → 204
)

// Sync is what an edge pulls, incrementally: everything that changed after
// the revision it asked with, and the revision to ask with next.
type Sync struct {
	Revision int64       `json:"revision"`
	Full     bool        `json:"full"` // the lists are complete, not deltas
	Keys     []PublicKey `json:"keys"` // always complete
	Revoked  []string    `json:"revoked,omitempty"`
	Names    []Name      `json:"names,omitempty"`
	Policies []Policy    `json:"policies,omitempty"`
}

// PublicKey verifies authtokens signed by the control service.
type PublicKey struct {
	ID  string `json:"id"`
	Key []byte `json:"key"` // Ed25519 public key
}

// Name is a reserved subdomain and its owner. Released is set while the
// name is quarantined after its owner let go of it.
type Name struct {
	Name     string     `json:"name"`
	Account  string     `json:"account"`
	Released *time.Time `json:"released,omitempty"`
}

// Policy is an endpoint's security settings from the dashboard or API.
// Empty fields leave the agent's settings in force; a set field wins over
// the agent's (the dashboard has the last word).
type Policy struct {
	Endpoint          string      `json:"endpoint"`
	Account           string      `json:"account"`
	AllowCIDRs        []string    `json:"allow_cidrs,omitempty"`
	DenyCIDRs         []string    `json:"deny_cidrs,omitempty"`
	BlockPaths        []string    `json:"block_paths,omitempty"`
	BasicAuth         []BasicAuth `json:"basic_auth,omitempty"`
	RateLimit         int         `json:"rate_limit,omitempty"`          // per client address, per minute
	EndpointRateLimit int         `json:"endpoint_rate_limit,omitempty"` // whole endpoint, per minute
	Deleted           bool        `json:"deleted,omitempty"`
}

// BasicAuth is one user allowed by an endpoint's basic auth. Hash is
// "sha256$<salt hex>$<hex of sha256(salt || password)>": fast enough to
// check on every request, salted so equal passwords do not look equal.
type BasicAuth struct {
	User string `json:"user"`
	Hash string `json:"hash"`
}

// Report is what an edge pushes, about once a second.
type Report struct {
	Edge    string         `json:"edge"`
	Usage   []Usage        `json:"usage,omitempty"`
	Tunnels []Tunnel       `json:"tunnels"` // complete: every tunnel the edge holds now
	Events  []RequestEvent `json:"events,omitempty"`
	Closed  []string       `json:"closed_tokens,omitempty"` // token ids whose sessions were cut
}

// LatencyBounds are the upper bounds of the latency histogram buckets;
// the last bucket counts everything slower.
var LatencyBounds = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// NumLatencyBuckets is len(LatencyBounds)+1.
const NumLatencyBuckets = 14

// LatencyBucket returns the bucket index of d.
func LatencyBucket(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d <= b {
			return i
		}
	}
	return len(LatencyBounds)
}

// Usage is one endpoint's counters for one minute: deltas since the edge's
// last report, which the control service adds up.
type Usage struct {
	Account  string    `json:"account"`
	Endpoint string    `json:"endpoint"`
	Minute   time.Time `json:"minute"`
	Requests int64     `json:"requests"`
	BytesIn  int64     `json:"bytes_in"`
	BytesOut int64     `json:"bytes_out"`
	Status   [5]int64  `json:"status"` // 1xx .. 5xx
	Blocked  int64     `json:"blocked"`
	Latency  []int64   `json:"latency"` // NumLatencyBuckets counts
}

// Tunnel is a live tunnel on an edge.
type Tunnel struct {
	Name    string    `json:"name"`
	Account string    `json:"account"`
	Kind    string    `json:"kind"`
	URLs    []string  `json:"urls"`
	Agents  []Agent   `json:"agents"`
	Offline time.Time `json:"offline,omitzero"`
}

// Agent is one agent session serving a tunnel.
type Agent struct {
	Remote  string        `json:"remote"`
	Version string        `json:"version"`
	Since   time.Time     `json:"since"`
	RTT     time.Duration `json:"rtt"`
	Streams int           `json:"streams"`
	TokenID string        `json:"token_id"`
}

// RequestEvent is one finished public request, for the live traffic view.
type RequestEvent struct {
	Time     time.Time     `json:"time"`
	Account  string        `json:"account"`
	Endpoint string        `json:"endpoint"`
	Method   string        `json:"method"`
	Path     string        `json:"path"`
	Status   int           `json:"status"`
	Duration time.Duration `json:"duration"`
	Client   string        `json:"client"`
	BytesIn  int64         `json:"bytes_in"`
	BytesOut int64         `json:"bytes_out"`
	Blocked  string        `json:"blocked,omitempty"` // why the edge refused it
}

// HashBasicPassword returns the stored form of a basic auth password (see
// BasicAuth): salted SHA-256, cheap enough to check per request.
func HashBasicPassword(pass string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	sum := SaltedSum(salt, pass)
	return "sha256$" + hex.EncodeToString(salt) + "$" + hex.EncodeToString(sum[:])
}

// SaltedSum is sha256(salt || pass).
func SaltedSum(salt []byte, pass string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(pass))
	var s [sha256.Size]byte
	h.Sum(s[:0])
	return s
}

// ParseBasicHash splits a stored hash into its salt and sum.
func ParseBasicHash(hash string) (salt []byte, sum [sha256.Size]byte, ok bool) {
	parts := strings.Split(hash, "$")
	if len(parts) != 3 || parts[0] != "sha256" {
		return nil, sum, false
	}
	salt, err1 := hex.DecodeString(parts[1])
	raw, err2 := hex.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(raw) != sha256.Size {
		return nil, sum, false
	}
	copy(sum[:], raw)
	return salt, sum, true
}
