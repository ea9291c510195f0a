package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// HashParams are argon2id's costs. They are chosen here only; every stored
// hash carries its own in PHC form, so raising them later re-hashes each
// password at its owner's next successful login.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultHashParams follow RFC 9106's second recommendation (64 MiB, t=3)
// with two lanes for a 2-core server: about 80 ms per hash measured on one
// AMD EPYC core pair, inside the 50-150 ms login budget.
var DefaultHashParams = HashParams{Memory: 64 * 1024, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}

// TestHashParams are deliberately weak so that tests creating hundreds of
// users stay fast. Only tests pass them (through Config.Hash); production
// takes the zero value, which means DefaultHashParams.
var TestHashParams = HashParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func (p HashParams) orDefault() HashParams {
	if p == (HashParams{}) {
		return DefaultHashParams
	}
	return p
}

var errBadHash = errors.New("stored password hash is not a valid argon2id PHC string")

// hasher runs argon2id with a bound on concurrent hashes: each takes
// Memory KiB, so a burst of logins must queue rather than exhaust memory.
type hasher struct {
	params HashParams
	slots  chan struct{}
	// dummy is verified against for unknown emails so that both failures cost one hash.
	dummy string
	// runs counts argon2 computations, so tests can check that every login
	// path costs exactly one.
	runs atomic.Int64
}

func newHasher(p HashParams, concurrency int) (*hasher, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &hasher{params: p.orDefault(), slots: make(chan struct{}, concurrency)}
	// The dummy is a PHC string with the current parameters and a random
	// salt and key, written out rather than hashed: verifying against it
	// costs one argon2 run all the same, and no password yields a random
	// key. Hashing it here cost a full run (64 MiB, most of a second on two
	// busy cores) before the server could start listening.
	salt, key := make([]byte, h.params.SaltLen), make([]byte, h.params.KeyLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	h.dummy = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.params.Memory, h.params.Time, h.params.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	if _, _, _, err := decodeHash(h.dummy); err != nil {
		return nil, fmt.Errorf("auth: hash parameters: %w", err)
	}
	return h, nil
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.slots }

// hash returns the PHC string $argon2id$v=19$m=..,t=..,p=..$salt$key.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	p := h.params
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	h.release()
	h.runs.Add(1)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verify reports whether password matches encoded, and whether encoded was
// made with other parameters than the current ones (so it should be redone).
func (h *hasher) verify(ctx context.Context, password, encoded string) (ok, stale bool, err error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	h.release()
	h.runs.Add(1)
	ok = subtle.ConstantTimeCompare(got, key) == 1
	stale = p.Memory != h.params.Memory || p.Time != h.params.Time || p.Threads != h.params.Threads ||
		uint32(len(salt)) != h.params.SaltLen || uint32(len(key)) != h.params.KeyLen
	return ok, stale, nil
}

// burn spends one hash on nothing, for a login whose email is unknown.
func (h *hasher) burn(ctx context.Context, password string) {
	_, _, _ = h.verify(ctx, password, h.dummy)
}

// decodeHash parses a PHC string, refusing parameters no sane deployment
// uses so that a corrupted record cannot make a login allocate gigabytes.
func decodeHash(s string) (HashParams, []byte, []byte, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return HashParams{}, nil, nil, errBadHash
	}
	var p HashParams
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return HashParams{}, nil, nil, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return HashParams{}, nil, nil, errBadHash
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return HashParams{}, nil, nil, errBadHash
			}
			p.Threads = uint8(n)
		default:
			return HashParams{}, nil, nil, errBadHash
		}
	}
	if p.Threads < 1 || p.Threads > 16 || p.Time < 1 || p.Time > 64 || p.Memory < 8*uint32(p.Threads) || p.Memory > 1<<20 {
		return HashParams{}, nil, nil, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return HashParams{}, nil, nil, errBadHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return HashParams{}, nil, nil, errBadHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
