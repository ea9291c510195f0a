package auth

import (
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clavis-app/clavis/internal/clock"
)

// Access-token constants. The audience names this API so that a token minted
// for something else (even by the same issuer) is refused.
const (
	Issuer         = "https://clavis.app"
	Audience       = "clavis-api"
	AccessTokenTTL = 15 * time.Minute
	// clockSkew tolerates replicas whose clocks differ slightly.
	clockSkew = 30 * time.Second
	// maxTokenLen refuses absurd input before any parsing: a real token is ~400 bytes.
	maxTokenLen = 4096
)

var errBadToken = errors.New("access token is not valid")

// Claims are what a verified access token says.
type Claims struct {
	UserID    string
	Role      Role
	OrgID     string
	KeyID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type accessClaims struct {
	Role Role   `json:"role"`
	Org  string `json:"org,omitempty"`
	jwt.RegisteredClaims
}

// tokenCodec issues and verifies access tokens.
type tokenCodec struct {
	keys   *KeySet
	clock  clock.Clock
	parser *jwt.Parser

	// verified remembers tokens whose signature and claims were checked, so
	// that an app's next requests with the same token skip the Ed25519
	// verification (measured: as costly as the request's two store reads).
	// Only the signature work is saved: expiry is checked on every use and
	// the account's status is still read by Authenticate.
	mu       sync.Mutex
	verified map[[sha256.Size]byte]Claims
}

// maxVerified bounds the cache: at the limit it starts over, which costs one
// verification per active token and never more memory (~1 MB).
const maxVerified = 10000

func newTokenCodec(keys *KeySet, clk clock.Clock) *tokenCodec {
	return &tokenCodec{
		keys:     keys,
		clock:    clk,
		verified: map[[sha256.Size]byte]Claims{},
		// Pinning EdDSA is what defeats alg=none and HS256-with-the-public-key:
		// the parser refuses any other alg before it asks for a key.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(Issuer),
			jwt.WithAudience(Audience),
			jwt.WithLeeway(clockSkew),
			jwt.WithTimeFunc(clk.Now),
		),
	}
}

func (t *tokenCodec) issue(userID string, role Role, orgID string) (string, time.Time, error) {
	now := t.clock.Now().Truncate(time.Second)
	exp := now.Add(AccessTokenTTL)
	claims := accessClaims{
		Role: role,
		Org:  orgID,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = t.keys.signKID
	s, err := tok.SignedString(t.keys.signKey)
	return s, exp, err
}

// parse verifies a token's signature (by kid), algorithm, issuer, audience
// and times. It never panics on any input (see FuzzParseAccessToken).
func (t *tokenCodec) parse(raw string) (Claims, error) {
	if raw == "" || len(raw) > maxTokenLen {
		return Claims{}, errBadToken
	}
	key := sha256.Sum256([]byte(raw))
	t.mu.Lock()
	c, ok := t.verified[key]
	t.mu.Unlock()
	if ok {
		if !t.clock.Now().Before(c.ExpiresAt.Add(clockSkew)) {
			return Claims{}, errBadToken
		}
		return c, nil
	}
	c, err := t.verify(raw)
	if err != nil {
		return Claims{}, err
	}
	t.mu.Lock()
	if len(t.verified) >= maxVerified {
		clear(t.verified)
	}
	t.verified[key] = c
	t.mu.Unlock()
	return c, nil
}

func (t *tokenCodec) verify(raw string) (Claims, error) {
	var c accessClaims
	var kid string
	tok, err := t.parser.ParseWithClaims(raw, &c, func(tok *jwt.Token) (any, error) {
		k, _ := tok.Header["kid"].(string)
		pub, ok := t.keys.PublicKey(k)
		if !ok {
			return nil, errBadToken
		}
		kid = k
		return pub, nil
	})
	if err != nil || !tok.Valid {
		return Claims{}, errBadToken
	}
	if c.Subject == "" || c.IssuedAt == nil || c.ExpiresAt == nil {
		return Claims{}, errBadToken
	}
	return Claims{UserID: c.Subject, Role: c.Role, OrgID: c.Org, KeyID: kid,
		IssuedAt: c.IssuedAt.Time, ExpiresAt: c.ExpiresAt.Time}, nil
}
