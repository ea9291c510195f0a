package auth

import (
	"context"
	"strings"
	"testing"
)

func TestHashVerifyAndStaleness(t *testing.T) {
	ctx := context.Background()
	h, err := newHasher(TestHashParams, 2)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoded %q", enc)
	}
	again, _ := h.hash(ctx, "correct horse battery")
	if again == enc {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if ok, stale, err := h.verify(ctx, "correct horse battery", enc); !ok || stale || err != nil {
		t.Fatalf("verify: ok=%v stale=%v err=%v", ok, stale, err)
	}
	if ok, _, _ := h.verify(ctx, "correct horse batterY", enc); ok {
		t.Fatal("wrong password accepted")
	}
	// Raised parameters: the old hash still verifies and is reported stale.
	stronger, _ := newHasher(HashParams{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	if ok, stale, err := stronger.verify(ctx, "correct horse battery", enc); !ok || !stale || err != nil {
		t.Fatalf("after raising: ok=%v stale=%v err=%v", ok, stale, err)
	}
}

func TestDecodeHashRefusesBadOrDangerousStrings(t *testing.T) {
	for _, s := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", // 4 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5",
	} {
		if _, _, _, err := decodeHash(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

// The production parameters are what the README and the login budget say.
func TestDefaultParams(t *testing.T) {
	h, err := newHasher(HashParams{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if h.params != DefaultHashParams || !strings.HasPrefix(h.dummy, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("params %+v dummy %q", h.params, h.dummy)
	}
}
