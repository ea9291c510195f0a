// Package ids makes the identifiers Clavis gives to users, outings and
// everything else: 128 random bits, so that one id tells nothing about the
// next (ObjectIDs made milliseconds apart differ only in their last digits).
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns 32 lowercase hex digits from 16 random bytes.
func New() string {
	var b [16]byte
	// crypto/rand.Read never fails on the platforms Go supports (Go 1.24+ panics instead).
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
