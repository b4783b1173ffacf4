package client

import (
	"slices"
	"testing"
)

func TestKeepTransport(t *testing.T) {
	urls := []string{
		"stun:198.51.100.1:3478",
		"turn:198.51.100.1:3478?transport=udp",
		"turn:198.51.100.1:3478?transport=tcp",
		"turns:turn.example.com:443?transport=tcp",
		"turn:198.51.100.1:3478",
		"turns:turn.example.com:5349",
	}
	for _, tc := range []struct {
		transport string
		want      []string
	}{
		{"", urls},
		{TURNOverUDP, []string{urls[0], urls[1], urls[4]}},
		{TURNOverTCP, []string{urls[0], urls[2], urls[3], urls[5]}},
	} {
		if got := keepTransport(urls, tc.transport); !slices.Equal(got, tc.want) {
			t.Errorf("keepTransport(%q) = %q, want %q", tc.transport, got, tc.want)
		}
	}
}
