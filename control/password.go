package control

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Password hashing: argon2id with OWASP's minimum parameters (19 MiB, two
// passes, one lane), stored in the PHC string format
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (unpadded base64), so that
// the parameters can be raised later without invalidating old hashes.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32

	// Bounds on the parameters of a stored hash, so that a corrupted or
	// hostile row cannot make a login allocate gigabytes.
	argonMaxMemory = 256 * 1024
	argonMaxTime   = 16
)

// hashSlots bounds the argon2 computations running at once: each takes
// argonMemory, and a burst of logins must not exhaust the host.
var hashSlots = make(chan struct{}, 4)

var errBadHash = errors.New("wsgrok: control: malformed password hash")

// hashPassword returns the PHC string of an argon2id hash of pass.
func hashPassword(pass string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argonKey([]byte(pass), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

var b64 = base64.RawStdEncoding

// checkPassword reports whether pass matches the PHC string hash, in time
// independent of where they differ.
func checkPassword(hash, pass string) (bool, error) {
	var version, mem, iters, threads int
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil ||
		mem < 8 || mem > argonMaxMemory || iters < 1 || iters > argonMaxTime || threads < 1 || threads > 16 {
		return false, errBadHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	got := argonKey([]byte(pass), salt, uint32(iters), uint32(mem), uint8(threads), uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func argonKey(pass, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	hashSlots <- struct{}{}
	key := argon2.IDKey(pass, salt, t, m, p, n)
	<-hashSlots
	giveBackArgonMemory()
	return key
}

// giveBackArgonMemory returns the memory of finished hashes to the
// system. Each hash borrows argonMemory (19 MiB) for a few milliseconds;
// left to the runtime's background scavenger, a process that hashed once
// (an edge with the embedded control service, at start or after a login)
// would keep it resident for minutes. Logins are rare and rate-limited,
// so the forced collection costs little.
func giveBackArgonMemory() {
	if len(hashSlots) == 0 && freeing.CompareAndSwap(false, true) {
		go func() {
			defer freeing.Store(false)
			debug.FreeOSMemory()
		}()
	}
}

var freeing atomic.Bool

// dummyHash is checked against when no account matches a login, so that
// the answer takes as long as for a wrong password.
var dummyHash = sync.OnceValue(func() string { return hashPassword("wsgrok-no-such-account") })
