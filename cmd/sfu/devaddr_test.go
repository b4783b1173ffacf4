package main

import "testing"

func TestDevListenAddr(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		explicit bool
		want     string
		err      bool
	}{
		{":7880", false, "127.0.0.1:7880", false},
		{":7880", true, "127.0.0.1:7880", false},
		{"0.0.0.0:9000", true, "", true},
		{"192.0.2.10:7880", true, "", true},
		{"127.0.0.1:7880", true, "127.0.0.1:7880", false},
		{"[::1]:7880", true, "[::1]:7880", false},
		{"localhost:7880", true, "localhost:7880", false},
		{"nonsense", false, "", true},
	} {
		got, err := devListenAddr("http-addr", tc.addr, tc.explicit)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("devListenAddr(%q, %v) = %q, %v; want %q, error %v", tc.addr, tc.explicit, got, err, tc.want, tc.err)
		}
	}
}
