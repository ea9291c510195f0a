package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// A server that keeps a sign-in for its client (the console's session
// cookie) hands the client the refresh token sealed, not the token itself:
// a copied cookie then works only where the server opens it, and
// /v1/auth/refresh cannot turn it into API tokens. The key is derived from
// the signing key, so every replica opens what another sealed; a new
// signing key ends such sessions (their holders sign in again).

func (k *KeySet) sealAEAD() cipher.AEAD {
	m := hmac.New(sha256.New, k.signKey.Seed())
	m.Write([]byte("clavis: sealed client sign-in v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// SealSignIn seals a refresh token for a client to hold.
func (s *Service) SealSignIn(refresh string) string {
	aead := s.seal
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(refresh)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(refresh), nil))
}

// OpenSignIn returns the refresh token a SealSignIn value holds; false for
// anything this deployment did not seal.
func (s *Service) OpenSignIn(sealed string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	aead := s.seal
	if err != nil || len(b) < aead.NonceSize()+aead.Overhead() {
		return "", false
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], nil)
	if err != nil {
		return "", false
	}
	return string(plain), true
}
