package loadgen

import (
	"errors"
	"testing"
)

func TestCheckTarget(t *testing.T) {
	local := []string{
		"http://127.0.0.1:7880", "http://127.8.9.10:7880", "ws://localhost:7880/ws", "http://LOCALHOST",
		"http://[::1]:7880", "http://[::ffff:127.0.0.1]:7880", "https://198.18.0.1", "http://198.19.255.254:7880",
	}
	remote := []string{
		"http://10.0.0.1:7880", "https://example.com", "http://198.17.255.255", "http://198.20.0.0",
		"http://[2001:db8::1]:7880", "http://0.0.0.0:7880", "http://localhost.example.com", "http://127.0.0.1.nip.io",
	}
	for _, u := range local {
		if err := CheckTarget(u, false); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range remote {
		if err := CheckTarget(u, false); !errors.Is(err, ErrRemoteTarget) {
			t.Errorf("%s: got %v, want ErrRemoteTarget", u, err)
		}
		if err := CheckTarget(u, true); err != nil {
			t.Errorf("%s with allowRemote: %v", u, err)
		}
	}
	for _, u := range []string{"", "http://", "::bad"} {
		if err := CheckTarget(u, true); err == nil || errors.Is(err, ErrRemoteTarget) {
			t.Errorf("%q: got %v, want a parse error", u, err)
		}
	}
}
