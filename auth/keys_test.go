package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/clock"
)

// With no key file, the first start writes a 0600 key into the data folder
// and later starts reuse it, so tokens survive restarts.
func TestGeneratedKeyIsPrivateAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ks1, path, created, err := LoadKeys("", dir)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	ks2, _, created, err := LoadKeys("", dir)
	if err != nil || created || ks2.SigningKeyID() != ks1.SigningKeyID() {
		t.Fatalf("restart: created=%v err=%v kid %s vs %s", created, err, ks2.SigningKeyID(), ks1.SigningKeyID())
	}
	clk := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	tok, _, err := newTokenCodec(ks1, clk).issue("u1", RoleVolunteer, "o1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newTokenCodec(ks2, clk).parse(tok); err != nil {
		t.Fatalf("token from before the restart refused: %v", err)
	}
}

// Two processes starting at once on an empty data folder end up with one key.
func TestConcurrentFirstStartsAgreeOnOneKey(t *testing.T) {
	dir := t.TempDir()
	kids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ks, _, _, err := LoadKeys("", dir)
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = ks.SigningKeyID()
		}()
	}
	wg.Wait()
	for _, k := range kids {
		if k != kids[0] {
			t.Fatalf("different keys: %v", kids)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left %d files behind", len(entries))
	}
}

// A key file with the new key first and the retired one after it signs with
// the new key and still verifies tokens of the old one.
func TestKeyFileRotation(t *testing.T) {
	_, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	_, newKey, _ := ed25519.GenerateKey(rand.Reader)
	oldPEM, _ := MarshalPrivateKeyPEM(oldKey)
	newPEM, _ := MarshalPrivateKeyPEM(newKey)
	clk := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	oldTok, _, _ := newTokenCodec(NewKeySet(oldKey), clk).issue("u1", RoleParticipant, "o1")

	der, _ := x509.MarshalPKIXPublicKey(oldKey.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	for name, content := range map[string][]byte{
		"retired private key": append(append([]byte{}, newPEM...), oldPEM...),
		"retired public key":  append(append([]byte{}, newPEM...), pubPEM...),
	} {
		file := filepath.Join(t.TempDir(), "key.pem")
		if err := os.WriteFile(file, content, 0o600); err != nil {
			t.Fatal(err)
		}
		ks, _, _, err := LoadKeys(file, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ks.SigningKeyID() != KeyID(newKey.Public().(ed25519.PublicKey)) {
			t.Fatalf("%s: signs with the wrong key", name)
		}
		if c, err := newTokenCodec(ks, clk).parse(oldTok); err != nil || c.UserID != "u1" {
			t.Fatalf("%s: old token refused: %v", name, err)
		}
	}
	for name, content := range map[string]string{
		"empty":      "",
		"not pem":    "hello",
		"only a pub": string(pubPEM),
		"rsa-ish":    "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
	} {
		if _, err := ParseKeyPEM([]byte(content)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, _, err := LoadKeys(filepath.Join(t.TempDir(), "missing.pem"), ""); err == nil {
		t.Error("a missing CLAVIS_JWT_KEY_FILE was accepted")
	}
}
