package client

import "testing"

func TestWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:7880":      "ws://127.0.0.1:7880/ws",
		"https://sfu.example.com/":   "wss://sfu.example.com/ws",
		"ws://h:1/base":              "ws://h:1/base/ws",
		"wss://h/ws":                 "wss://h/ws",
		"http://h:1/x?region=eu#top": "ws://h:1/x/ws?region=eu",
	} {
		if got, err := wsURL(in); err != nil || got != want {
			t.Errorf("wsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://h", "http://", "::"} {
		if _, err := wsURL(bad); err == nil {
			t.Errorf("wsURL(%q) accepted", bad)
		}
	}
}
