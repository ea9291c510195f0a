package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clavis-app/clavis/auth"
)

// forge signs claims with key as an EdDSA token carrying kid.
func forge(t *testing.T, key ed25519.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hs256 builds an HS256 token by hand with secret as the HMAC key: the
// classic attack on verifiers that take the algorithm from the token.
func hs256(header, claims map[string]any, secret []byte) string {
	signing := b64(header) + "." + b64(claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Every attack must answer 401 on an authenticated route; the control (a
// token forged the same way with good claims) must answer 200, proving the
// forging helper itself is sound and each 401 comes from the one thing the
// case changes.
func TestTokenAttacks(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	uid, valid := e.User(auth.RoleParticipant, org, auth.StatusActive)
	pub := e.SigningKey.Public().(ed25519.PublicKey)
	kid := auth.KeyID(pub)
	now := e.Clock.Now()
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": uid, "role": "participant", "org": org, "iss": auth.Issuer,
			"aud": []string{auth.Audience}, "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	flip := func(tok string) string {
		parts := strings.Split(tok, ".")
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[10] ^= 0x01
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	pemPub := func() []byte {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)

	suspendedID, suspendedTok := e.User(auth.RoleParticipant, org, auth.StatusActive)
	_, coordTok := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	if st, b := e.Call("POST", "/v1/organisations/"+org+"/members/"+suspendedID+"/suspend", coordTok, map[string]string{"reason": "test"}); st != 200 {
		t.Fatalf("suspend: %d %s", st, b)
	}
	_, erasedTok := e.User(auth.RoleVolunteer, org, auth.StatusActive)
	if st, b := e.Call("DELETE", "/v1/me", erasedTok, nil); st != 204 {
		t.Fatalf("erase: %d %s", st, b)
	}

	cases := []struct {
		name   string
		header string // the whole Authorization header; "" sends none
		want   int
	}{
		{"control: issued token", "Bearer " + valid, 200},
		{"control: forged with the real key and good claims", "Bearer " + forge(t, e.SigningKey, kid, good()), 200},
		{"no token", "", 401},
		{"not a bearer scheme", "Basic " + valid, 401},
		{"malformed", "Bearer not.a.jwt", 401},
		{"malformed: two parts", "Bearer abc.def", 401},
		{"signature flipped", "Bearer " + flip(valid), 401},
		{"alg none", "Bearer " + b64(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + b64(good()) + ".", 401},
		{"alg none, signature kept", "Bearer " + b64(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + b64(good()) + "." + strings.Split(valid, ".")[2], 401},
		{"HS256 signed with the raw public key", "Bearer " + hs256(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, good(), pub), 401},
		{"HS256 signed with the PEM public key", "Bearer " + hs256(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, good(), pemPub()), 401},
		{"expired", "Bearer " + forge(t, e.SigningKey, kid, with("exp", now.Add(-time.Minute).Unix())), 401},
		{"no exp", "Bearer " + forge(t, e.SigningKey, kid, with("exp", nil)), 401},
		{"not yet valid (nbf in an hour)", "Bearer " + forge(t, e.SigningKey, kid, with("nbf", now.Add(time.Hour).Unix())), 401},
		{"not yet valid (iat in an hour)", "Bearer " + forge(t, e.SigningKey, kid, with("iat", now.Add(time.Hour).Unix())), 401},
		{"wrong issuer", "Bearer " + forge(t, e.SigningKey, kid, with("iss", "https://evil.example")), 401},
		{"no issuer", "Bearer " + forge(t, e.SigningKey, kid, with("iss", nil)), 401},
		{"wrong audience", "Bearer " + forge(t, e.SigningKey, kid, with("aud", []string{"another-api"})), 401},
		{"unknown kid (signed with another key)", "Bearer " + forge(t, otherKey, auth.KeyID(otherKey.Public().(ed25519.PublicKey)), good()), 401},
		{"unknown kid (real key, made-up kid)", "Bearer " + forge(t, e.SigningKey, "made-up", good()), 401},
		{"no kid", "Bearer " + forge(t, e.SigningKey, "", good()), 401},
		{"real kid, another key's signature", "Bearer " + forge(t, otherKey, kid, good()), 401},
		{"valid token of a suspended user", "Bearer " + suspendedTok, 401},
		{"valid token of an erased user", "Bearer " + erasedTok, 401},
		{"valid token of an unknown user", "Bearer " + forge(t, e.SigningKey, kid, with("sub", "000000000000000000000000")), 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.header != "" {
				headers = []string{"Authorization", tc.header}
			}
			resp, body := doRequest(t, e.Srv, "GET", "/v1/me", "", nil, headers...)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.want == 401 {
				if p := checkProblem(t, resp, body); !strings.HasSuffix(p.Type, "/unauthenticated") {
					t.Fatalf("type %q", p.Type)
				}
			}
			t.Logf("attack %-45q -> %d", tc.name, resp.StatusCode)
		})
	}

	// Expiry by the clock too: the issued token dies 15 minutes (plus the
	// 30 s skew allowance) after issue.
	e.Clock.Advance(15*time.Minute + 31*time.Second)
	if st, _ := e.Call("GET", "/v1/me", valid, nil); st != 401 {
		t.Fatalf("a token 15.5 minutes old answered %d, want 401", st)
	}
}

// A token signed by a key that was rotated out but kept for verification
// stays valid; the new key signs new tokens.
func TestRotatedKeyStillVerifies(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	uid, oldTok := e.User(auth.RoleVolunteer, org, auth.StatusActive)
	_, newPriv, _ := ed25519.GenerateKey(rand.Reader)
	rotated, err := auth.New(context.Background(), auth.Config{Store: e.AuthStore, Clock: e.Clock, Hash: auth.TestHashParams,
		Keys: auth.NewKeySet(newPriv, e.SigningKey.Public().(ed25519.PublicKey))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.Authenticate(context.Background(), oldTok); err != nil {
		t.Fatalf("old-key token refused after rotation: %v", err)
	}
	newTok, err := rotated.IssueAccessToken(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rotated.VerifyAccessToken(newTok)
	if err != nil || c.KeyID != auth.KeyID(newPriv.Public().(ed25519.PublicKey)) {
		t.Fatalf("new token kid %q err %v", c.KeyID, err)
	}
	// The old service (without the new key) does not know the new kid.
	if _, err := e.Auth.Authenticate(context.Background(), newTok); err == nil {
		t.Fatal("a service without the new key accepted its token")
	}
}
