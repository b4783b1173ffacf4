package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestRoomTypeClaim(t *testing.T) {
	m, _ := NewMinter(DevAPIKey, DevAPISecret)
	v := NewVerifier(map[string]string{DevAPIKey: DevAPISecret})
	for _, rt := range []string{"", RoomTypeLive, RoomTypeGroup} {
		tok, err := m.Mint(Grant{Identity: "ann", Room: "r", Role: RoleViewer, RoomType: rt}, time.Hour)
		if err != nil {
			t.Fatalf("mint %q: %v", rt, err)
		}
		g, err := v.Verify(tok)
		if err != nil || g.RoomType != rt {
			t.Fatalf("room type %q came back as %q (%v)", rt, g.RoomType, err)
		}
		// A live token carries no room_type claim: older verifiers read it as before.
		parts := strings.Split(tok, ".")
		body, _ := jwt.NewParser().DecodeSegment(parts[1])
		if has := strings.Contains(string(body), "room_type"); has != (rt != "") {
			t.Errorf("room type %q: claim present %v in %s", rt, has, body)
		}
	}
	if _, err := m.Mint(Grant{Identity: "ann", Room: "r", Role: RoleViewer, RoomType: "stadium"}, time.Hour); !errors.Is(err, ErrBadGrant) {
		t.Fatalf("unknown room type minted: %v", err)
	}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": DevAPIKey, "sub": "x", "role": "viewer", "room": "r", "room_type": "stadium", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(DevAPISecret))
	if _, err := v.Verify(forged); !errors.Is(err, ErrBadGrant) {
		t.Fatalf("unknown room type verified: %v", err)
	}
}
