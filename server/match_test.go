package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/match"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// quickWiden drops every preference after half a second of waiting.
func quickWiden(c *server.Config) {
	c.MatchWiden = []match.Widening{{After: 500 * time.Millisecond, Drop: []string{match.Interests, match.Gender, match.Language, match.Country}}}
}

func profile(gender, wantGender string) wire.MatchProfile {
	var p wire.MatchProfile
	p.Attrs = map[string]string{match.Gender: gender}
	if wantGender != "" {
		p.Want.Attrs = map[string][]string{match.Gender: {wantGender}}
	}
	return p
}

// matchUp asks to be matched and returns the answer (match.waiting or call.accepted).
func (ph *phone) matchUp(p wire.MatchProfile) wire.Message {
	ph.t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	m, err := ph.c.Match(ctx, p)
	if err != nil {
		ph.t.Fatalf("%s match: %v", ph.who, err)
	}
	return m
}

// matched waits for the call.accepted of a match (other than those of calls
// in skip, already seen) and returns its call.
func (ph *phone) matched(skip ...string) wire.Call {
	ph.t.Helper()
	c := *nextEvent(ph.t, ph.c, wire.TypeCallAccepted, 5*time.Second).Call
	for slices.Contains(skip, c.ID) {
		c = *nextEvent(ph.t, ph.c, wire.TypeCallAccepted, 5*time.Second).Call
	}
	if !c.Match {
		ph.t.Fatalf("%s: call %s is not a match", ph.who, c.ID)
	}
	return c
}

// noMatchFor fails if the phone is matched within d.
func (ph *phone) noMatchFor(d time.Duration) {
	ph.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-ph.c.Events():
			if m.Type == wire.TypeCallAccepted {
				ph.t.Fatalf("%s was matched in call %+v", ph.who, m.Call)
			}
		case <-deadline:
			return
		}
	}
}

func partnerOf(c wire.Call, me string) string {
	if c.Caller == me {
		return c.Callee
	}
	return c.Caller
}

// Strangers who ask are paired by two-way preferences, longest waiting first,
// into a video call with media both ways; "next" pairs each with someone else.
func TestMatchPairsTalksAndNexts(t *testing.T) {
	e := newEnv(t)
	alice, carol, bob := e.connect("alice"), e.connect("carol"), e.connect("bob")
	if m := alice.matchUp(profile("f", "m")); m.Type != wire.TypeMatchWaiting {
		t.Fatalf("alice got %s, want match.waiting", m.Type)
	}
	if m := carol.matchUp(profile("f", "m")); m.Type != wire.TypeMatchWaiting {
		t.Fatalf("carol got %s: two women who want men are no match", m.Type)
	}
	m := bob.matchUp(profile("m", "f"))
	if m.Type != wire.TypeCallAccepted || m.Call == nil || !m.Call.Match {
		t.Fatalf("bob got %+v, want call.accepted of a match", m)
	}
	if p := partnerOf(*m.Call, "bob"); p != "alice" {
		t.Fatalf("bob was paired with %s, want alice (waiting longest)", p)
	}
	if c := alice.matched(); c.ID != m.Call.ID {
		t.Fatalf("alice's call %s, bob's %s", c.ID, m.Call.ID)
	}
	alice.publish(true)
	bob.publish(true)
	alice.receivesMore(true)
	bob.receivesMore(true)

	// bob moves on: alice waits again, bob is paired with carol.
	alice.stopMedia()
	bob.stopMedia()
	ctx, cancel := callCtx()
	defer cancel()
	if err := bob.c.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if c := alice.ended(m.Call.ID); c.Reason != "next" {
		t.Errorf("alice's match ended with %q, want next", c.Reason)
	}
	if c := bob.matched(m.Call.ID); partnerOf(c, "bob") != "carol" {
		t.Errorf("after next bob was paired with %s, want carol", partnerOf(c, "bob"))
	}
	carol.matched()
	alice.noMatchFor(300 * time.Millisecond) // nobody left for her
}

// Preferences widen with waiting; a blocked pair is never matched, even then;
// a user who leaves the queue (or disconnects) is never matched.
func TestMatchWideningBlocksAndLeaving(t *testing.T) {
	e := newEnv(t, quickWiden)
	ko := profile("f", "")
	ko.Attrs[match.Language] = "ko"
	ko.Want.Attrs = map[string][]string{match.Language: {"ko"}}
	en := profile("m", "")
	en.Attrs[match.Language] = "en"
	x, y := e.connect("x"), e.connect("y")
	x.matchUp(ko)
	if m := y.matchUp(en); m.Type != wire.TypeMatchWaiting {
		t.Fatalf("y got %s before widening", m.Type)
	}
	c := y.matched() // after x's preference widened
	x.matched()

	// x blocks y: the match ends, both wait again, and stay apart for good.
	ctx, cancel := callCtx()
	defer cancel()
	if err := x.c.Block(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	y.ended(c.ID)
	y.noMatchFor(1500 * time.Millisecond) // well past the widening

	// y leaves the queue; z disconnects while waiting: w finds nobody.
	if err := y.c.Unmatch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := x.c.Unmatch(ctx); err != nil {
		t.Fatal(err)
	}
	z := e.connect("z")
	z.matchUp(wire.MatchProfile{})
	z.c.Close()
	time.Sleep(200 * time.Millisecond)
	w := e.connect("w")
	if m := w.matchUp(wire.MatchProfile{}); m.Type != wire.TypeMatchWaiting {
		t.Fatalf("w got %+v: paired with a user who was gone", m.Call)
	}

	// A report is stored for review.
	if err := w.c.Report(ctx, "x", "rude"); err != nil {
		t.Fatal(err)
	}
	var reps struct {
		Reports []struct{ Reporter, Reason string }
	}
	getJSON(t, e.url+"/v1/rooms/match/reports", e.token("", "admin", auth.RoleAdmin), 200, &reps)
	if len(reps.Reports) != 1 || reps.Reports[0].Reporter != "w" {
		t.Errorf("reports %+v", reps.Reports)
	}
	// Bad input is refused clearly.
	bad := wire.MatchProfile{Attrs: map[string]string{"shoe_size": "44"}}
	if _, err := w.c.Match(ctx, bad); !isCode(err, wire.CodeBadMessage) {
		t.Errorf("unknown attribute: %v", err)
	}
}
