package room

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// fakePeer records what a session sends it.
type fakePeer struct {
	mu     sync.Mutex
	msgs   []wire.Message
	closed *wire.Error
}

func (f *fakePeer) Send(m wire.Message) {
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
}

func (f *fakePeer) Close(err *wire.Error) {
	f.mu.Lock()
	f.closed = err
	f.mu.Unlock()
}

func (f *fakePeer) types() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.msgs {
		out = append(out, m.Type+m.Reason)
	}
	return out
}

func msg(reason string) wire.Message { return wire.Message{Type: "m", Reason: reason} }

func TestSessionKeepsOrderAcrossADrop(t *testing.T) {
	a := &fakePeer{}
	s := newSession(a)
	s.Send(msg("1"))
	expired := make(chan struct{})
	unsent := func() []wire.Message { return []wire.Message{msg("2")} }
	if got := s.drop(&fakePeer{}, true, time.Minute, func() { close(expired) }, unsent); got != dropStale {
		t.Fatalf("drop by a connection not the session's = %v, want stale", got)
	}
	if got := s.drop(a, true, time.Minute, func() { close(expired) }, unsent); got != dropDetached {
		t.Fatalf("drop = %v, want detached", got)
	}
	s.Send(msg("3"))
	if s.attached() {
		t.Fatal("attached after the drop")
	}
	b := &fakePeer{}
	old, queuedOffer, ok := s.attach(b, wire.Message{Type: wire.TypeResumed})
	if !ok || old != nil || queuedOffer {
		t.Fatalf("attach = %v, %v, %v", old, queuedOffer, ok)
	}
	s.Send(msg("4"))
	if got, want := fmt.Sprint(b.types()), "[resumed m2 m3 m4]"; got != want {
		t.Fatalf("new connection got %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(a.types()), "[m1]"; got != want {
		t.Fatalf("old connection got %s, want %s", got, want)
	}
	select {
	case <-expired:
		t.Fatal("a resumed session expired")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestSessionEnds(t *testing.T) {
	never := func() { t.Error("expired") }
	// A drop that is not resumable, or without a window, ends it at once.
	for _, window := range []time.Duration{0, -1} {
		a := &fakePeer{}
		if got := newSession(a).drop(a, true, window, never, nil); got != dropEnded {
			t.Fatalf("drop with window %v = %v, want ended", window, got)
		}
	}
	a := &fakePeer{}
	s := newSession(a)
	if got := s.drop(a, false, time.Minute, never, nil); got != dropEnded {
		t.Fatalf("goodbye drop = %v, want ended", got)
	}
	if _, _, ok := s.attach(&fakePeer{}, wire.Message{}); ok {
		t.Fatal("an ended session was resumed")
	}

	// The window passes.
	a = &fakePeer{}
	s = newSession(a)
	expired := make(chan struct{})
	s.drop(a, true, 20*time.Millisecond, func() { close(expired) }, nil)
	<-expired
	if _, _, ok := s.attach(&fakePeer{}, wire.Message{}); ok {
		t.Fatal("an expired session was resumed")
	}

	// Too much waits for a detached client; or the room closes it.
	for _, end := range []func(s *session){
		func(s *session) {
			for i := 0; i <= maxDetachedQueue; i++ {
				s.Send(msg("x"))
			}
		},
		func(s *session) { s.Close(&wire.Error{Code: wire.CodeKicked}) },
	} {
		a = &fakePeer{}
		s = newSession(a)
		expired = make(chan struct{})
		s.drop(a, true, time.Minute, func() { close(expired) }, nil)
		end(s)
		select {
		case <-expired:
		case <-time.After(5 * time.Second):
			t.Fatal("session not ended")
		}
	}
}

func TestSessionResumeSecret(t *testing.T) {
	s := newSession(&fakePeer{})
	if s.matches("") {
		t.Fatal("no secret matched the empty one")
	}
	first := s.newSecret()
	if !s.matches(first) || s.matches(first+"0") {
		t.Fatal("secret mismatch")
	}
	if second := s.newSecret(); second == first || s.matches(first) || !s.matches(second) {
		t.Fatal("a new secret did not replace the old one")
	}
}
