package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMintVerifyRoundTrip(t *testing.T) {
	m, err := NewMinter(DevAPIKey, DevAPISecret)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.Mint(Grant{Identity: "alice", Name: "Alice", Room: "r1", Role: RoleHost}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewVerifier(map[string]string{DevAPIKey: DevAPISecret}).Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Grant{Identity: "alice", Name: "Alice", Room: "r1", Role: RoleHost}
	if g != want {
		t.Fatalf("grant = %+v, want %+v", g, want)
	}
}

func TestVerifyRejects(t *testing.T) {
	m, _ := NewMinter(DevAPIKey, DevAPISecret)
	other, _ := NewMinter(DevAPIKey, strings.Repeat("x", 40))
	stranger, _ := NewMinter("otherkey", DevAPISecret)
	good := Grant{Identity: "bob", Room: "r", Role: RoleViewer}
	valid, _ := m.Mint(good, time.Hour)
	expired, _ := m.Mint(good, -time.Hour)
	forged, _ := other.Mint(good, time.Hour)
	unknown, _ := stranger.Mint(good, time.Hour)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": DevAPIKey, "sub": "x", "role": "host", "room": "r", "exp": time.Now().Add(time.Hour).Unix()})
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	noExp := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": DevAPIKey, "sub": "x", "role": "host", "room": "r"})
	noExpTok, _ := noExp.SignedString([]byte(DevAPISecret))
	badRole := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": DevAPIKey, "sub": "x", "role": "king", "room": "r", "exp": time.Now().Add(time.Hour).Unix()})
	badRoleTok, _ := badRole.SignedString([]byte(DevAPISecret))

	v := NewVerifier(map[string]string{DevAPIKey: DevAPISecret})
	if _, err := v.Verify(valid); err != nil {
		t.Fatalf("valid token rejected: %v", err)
	}
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"missing", "", ErrMissingToken},
		{"garbage", "not.a.jwt", ErrMalformed},
		{"expired", expired, ErrExpired},
		{"wrong secret", forged, ErrBadSignature},
		{"unknown key", unknown, ErrUnknownKey},
		{"alg none", noneTok, ErrBadSignature},
		{"no expiry", noExpTok, ErrMalformed},
		{"bad role", badRoleTok, ErrBadGrant},
		{"tampered", valid[:len(valid)-4] + "AAAA", ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(c.token)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.token != "" && strings.Contains(err.Error(), c.token) {
				t.Fatal("error leaks the token")
			}
		})
	}
}

func TestMintRejectsIncompleteGrant(t *testing.T) {
	m, _ := NewMinter(DevAPIKey, DevAPISecret)
	for _, g := range []Grant{
		{Room: "r", Role: RoleHost},
		{Identity: "a", Role: RoleHost},
		{Identity: "a", Room: "r", Role: "owner"},
	} {
		if _, err := m.Mint(g, time.Hour); !errors.Is(err, ErrBadGrant) {
			t.Errorf("Mint(%+v) err = %v, want ErrBadGrant", g, err)
		}
	}
	if _, err := NewMinter("k", "short"); err == nil {
		t.Error("short secret accepted")
	}
}

func FuzzVerify(f *testing.F) {
	m, _ := NewMinter(DevAPIKey, DevAPISecret)
	tok, _ := m.Mint(Grant{Identity: "a", Room: "r", Role: RoleViewer}, time.Hour)
	f.Add(tok)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	v := NewVerifier(map[string]string{DevAPIKey: DevAPISecret})
	f.Fuzz(func(t *testing.T, s string) {
		g, err := v.Verify(s)
		if err == nil && (g.Identity == "" || !g.Role.Valid()) {
			t.Fatalf("accepted incomplete grant %+v", g)
		}
	})
}
