package signal

import (
	"testing"
	"time"
)

func TestIPLimiter(t *testing.T) {
	l := newIPLimiter(10, 3)
	now := time.Now()
	for i := range 3 {
		if !l.allow("192.0.2.1", now) {
			t.Fatalf("connection %d of the burst refused", i)
		}
	}
	if l.allow("192.0.2.1", now) {
		t.Fatal("a fourth connection at once was allowed")
	}
	if !l.allow("192.0.2.2", now) {
		t.Fatal("another address was limited by the first")
	}
	if !l.allow("192.0.2.1", now.Add(100*time.Millisecond)) {
		t.Fatal("the bucket did not refill")
	}
	if clientIP("[2001:db8::1]:443") != "2001:db8::1" || clientIP("192.0.2.1:80") != "192.0.2.1" {
		t.Fatal("clientIP")
	}
}
