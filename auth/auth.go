// Package auth mints and verifies talkrelay access tokens: HS256 JWTs signed with an
// API secret and naming, in the "iss" claim, the API key whose secret signed them.
package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Role is what a participant may do in a room.
type Role string

// Roles a token can grant.
const (
	RoleHost   Role = "host"   // publishes the live's audio and video
	RoleViewer Role = "viewer" // watches and chats, never publishes
	RoleCaller Role = "caller" // takes part in 1:1 calls
	RoleAdmin  Role = "admin"  // operates the server through the REST API
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleHost, RoleViewer, RoleCaller, RoleAdmin:
		return true
	}
	return false
}

// Room types a token can ask for; the first participant to join a room
// sets its type and later ones must ask for the same.
const (
	RoomTypeLive  = "live"  // one host broadcasts to viewers (the default)
	RoomTypeGroup = "group" // a group voice call: everyone may speak
)

// Dev credentials used when no key is configured, so that `sfu`, `sfu token` and
// `loadgen` work together with no flags. Never use them on a reachable server.
const (
	DevAPIKey    = "devkey"
	DevAPISecret = "talkrelay-dev-secret-not-for-production-use"
)

// MinSecretLen is the shortest API secret accepted: HS256 wants at least 256 bits.
const MinSecretLen = 32

// Errors returned by Verify; callers match them with errors.Is.
var (
	ErrMissingToken = errors.New("auth: missing token")
	ErrMalformed    = errors.New("auth: malformed token")
	ErrUnknownKey   = errors.New("auth: unknown api key")
	ErrBadSignature = errors.New("auth: bad token signature")
	ErrExpired      = errors.New("auth: token expired")
	ErrBadGrant     = errors.New("auth: token grant incomplete")
)

// Grant is what a token lets its bearer do.
type Grant struct {
	Identity string `json:"sub"`  // stable user id
	Name     string `json:"name"` // display name shown to others
	Room     string `json:"room"` // room the token is valid for; empty only for admin
	Role     Role   `json:"role"`
	// RoomType is the type of room the bearer joins: RoomTypeLive (also
	// when empty) or RoomTypeGroup.
	RoomType string `json:"room_type,omitempty"`
}

// claims is the JWT body: the grant plus the registered claims.
type claims struct {
	Name string `json:"name,omitempty"`
	Room string `json:"room,omitempty"`
	Role Role   `json:"role"`
	// RoomType is omitted for live rooms, so their tokens stay as they were.
	RoomType string `json:"room_type,omitempty"`
	jwt.RegisteredClaims
}

// Minter signs tokens with one API key and secret.
type Minter struct {
	key    string
	secret []byte
}

// NewMinter returns a Minter for the given API key and secret.
func NewMinter(apiKey, apiSecret string) (*Minter, error) {
	if apiKey == "" || len(apiSecret) < MinSecretLen {
		return nil, fmt.Errorf("auth: api key must be set and secret at least %d bytes", MinSecretLen)
	}
	return &Minter{key: apiKey, secret: []byte(apiSecret)}, nil
}

// Mint returns a signed token carrying g that expires after ttl.
func (m *Minter) Mint(g Grant, ttl time.Duration) (string, error) {
	if err := g.check(); err != nil {
		return "", err
	}
	now := time.Now()
	c := claims{
		Name:     g.Name,
		Room:     g.Room,
		Role:     g.Role,
		RoomType: g.RoomType,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    m.key,
			Subject:   g.Identity,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(m.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}

func (g Grant) check() error {
	if g.Identity == "" {
		return fmt.Errorf("%w: no identity", ErrBadGrant)
	}
	if !g.Role.Valid() {
		return fmt.Errorf("%w: unknown role %q", ErrBadGrant, g.Role)
	}
	if g.Room == "" && g.Role != RoleAdmin && g.Role != RoleCaller {
		return fmt.Errorf("%w: no room", ErrBadGrant)
	}
	if g.RoomType != "" && g.RoomType != RoomTypeLive && g.RoomType != RoomTypeGroup {
		return fmt.Errorf("%w: unknown room type %q", ErrBadGrant, g.RoomType)
	}
	return nil
}

// Verifier checks tokens against a set of API keys.
type Verifier struct {
	secrets map[string][]byte
	parser  *jwt.Parser
}

// NewVerifier returns a Verifier that accepts tokens signed by any of keys (api key → secret).
func NewVerifier(keys map[string]string) *Verifier {
	v := &Verifier{
		secrets: make(map[string][]byte, len(keys)),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(5*time.Second),
		),
	}
	for k, s := range keys {
		v.secrets[k] = []byte(s)
	}
	return v
}

// Verify checks token's signature, expiry and grant, and returns the grant.
// The returned error never contains the token itself.
func (v *Verifier) Verify(token string) (Grant, error) {
	if token == "" {
		return Grant{}, ErrMissingToken
	}
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		s, ok := v.secrets[iss]
		if !ok {
			return nil, ErrUnknownKey
		}
		return s, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknownKey):
		return Grant{}, ErrUnknownKey
	case errors.Is(err, jwt.ErrTokenExpired):
		return Grant{}, ErrExpired
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Grant{}, ErrBadSignature
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrTokenUnverifiable):
		return Grant{}, ErrMalformed
	default:
		return Grant{}, fmt.Errorf("%w: %s", ErrMalformed, shortReason(err))
	}
	g := Grant{Identity: c.Subject, Name: c.Name, Room: c.Room, Role: c.Role, RoomType: c.RoomType}
	if err := g.check(); err != nil {
		return Grant{}, err
	}
	if g.Name == "" {
		g.Name = g.Identity
	}
	return g, nil
}

// shortReason keeps jwt's wrapped message but bounds its length for client-facing errors.
func shortReason(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
