package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// GeneratedKeyFile is the name of the signing key Clavis generates in its
// data folder when CLAVIS_JWT_KEY_FILE is unset.
const GeneratedKeyFile = "jwt-ed25519.pem"

// KeySet signs access tokens with one Ed25519 key and verifies them with any
// key it holds, chosen by the token's kid. Keeping retired public keys lets
// tokens signed before a rotation live out their 15 minutes.
type KeySet struct {
	signKID string
	signKey ed25519.PrivateKey
	public  map[string]ed25519.PublicKey
}

// KeyID names a public key: the first 16 bytes of its SHA-256, base64url.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// NewKeySet signs with signing and also accepts tokens from the retired keys.
func NewKeySet(signing ed25519.PrivateKey, retired ...ed25519.PublicKey) *KeySet {
	pub := signing.Public().(ed25519.PublicKey)
	ks := &KeySet{signKID: KeyID(pub), signKey: signing, public: map[string]ed25519.PublicKey{KeyID(pub): pub}}
	for _, r := range retired {
		ks.public[KeyID(r)] = r
	}
	return ks
}

// GenerateKeySet returns a key set with a fresh signing key.
func GenerateKeySet() (*KeySet, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return NewKeySet(priv), nil
}

// SigningKeyID is the kid new tokens carry.
func (k *KeySet) SigningKeyID() string { return k.signKID }

// PublicKey returns the verification key for kid.
func (k *KeySet) PublicKey(kid string) (ed25519.PublicKey, bool) {
	p, ok := k.public[kid]
	return p, ok
}

// ParseKeyPEM reads a key file: the first "PRIVATE KEY" block (PKCS #8
// Ed25519) signs; any further "PRIVATE KEY" or "PUBLIC KEY" blocks are
// retired keys kept for verification only. Rotating is: put the new private
// key first, keep the old one after it for at least the access-token
// lifetime, then drop it.
func ParseKeyPEM(data []byte) (*KeySet, error) {
	var signing ed25519.PrivateKey
	var retired []ed25519.PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d: %w", n, err)
			}
			ed, ok := k.(ed25519.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("PEM block %d: not an Ed25519 private key", n)
			}
			if signing == nil {
				signing = ed
			} else {
				retired = append(retired, ed.Public().(ed25519.PublicKey))
			}
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d: %w", n, err)
			}
			ed, ok := k.(ed25519.PublicKey)
			if !ok {
				return nil, fmt.Errorf("PEM block %d: not an Ed25519 public key", n)
			}
			retired = append(retired, ed)
		default:
			return nil, fmt.Errorf("PEM block %d: unexpected type %q", n, block.Type)
		}
	}
	if signing == nil {
		return nil, errors.New("no Ed25519 PRIVATE KEY block found")
	}
	return NewKeySet(signing, retired...), nil
}

// MarshalPrivateKeyPEM encodes an Ed25519 key as a PKCS #8 PEM block.
func MarshalPrivateKeyPEM(k ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadKeys reads keyFile when set; otherwise it reuses dataDir's generated
// key, creating it (mode 0600) on first start, so tokens survive a restart.
// created reports a new key. Several replicas must share one key file:
// each generating its own would reject the others' tokens.
func LoadKeys(keyFile, dataDir string) (ks *KeySet, path string, created bool, err error) {
	if keyFile != "" {
		data, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, keyFile, false, fmt.Errorf("read CLAVIS_JWT_KEY_FILE: %w", err)
		}
		ks, err := ParseKeyPEM(data)
		if err != nil {
			return nil, keyFile, false, fmt.Errorf("CLAVIS_JWT_KEY_FILE %s: %w", keyFile, err)
		}
		return ks, keyFile, false, nil
	}
	path = filepath.Join(dataDir, GeneratedKeyFile)
	if data, err := os.ReadFile(path); err == nil {
		ks, err := ParseKeyPEM(data)
		if err != nil {
			return nil, path, false, fmt.Errorf("generated key %s: %w", path, err)
		}
		return ks, path, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, path, false, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, path, false, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, path, false, err
	}
	data, err := MarshalPrivateKeyPEM(priv)
	if err != nil {
		return nil, path, false, err
	}
	// Write a temporary file, then link it into place: a second process
	// starting at the same moment either wins the link or reads a whole file.
	tmp, err := os.CreateTemp(dataDir, ".jwt-key-*")
	if err != nil {
		return nil, path, false, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return nil, path, false, err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return nil, path, false, err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return nil, path, false, err
	}
	if err := tmp.Close(); err != nil {
		return nil, path, false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadKeys("", dataDir)
		}
		return nil, path, false, err
	}
	return NewKeySet(priv), path, true, nil
}
