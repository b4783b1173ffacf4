package chat

import (
	"errors"
	"sync"
	"testing"
)

// Two hubs on one store stand for two nodes: the host's actions on the first
// reach the members on the second through OnModerate and ApplyModeration.
func TestModerationAppliedOnAnotherHub(t *testing.T) {
	st := NewMemoryStore()
	a, _ := newTestHub(t, Config{Store: st})
	b, _ := newTestHub(t, Config{Store: st})
	var kickedMu sync.Mutex
	var kicked []string
	b.OnKick(func(room, identity string) {
		kickedMu.Lock()
		kicked = append(kicked, room+"/"+identity)
		kickedMu.Unlock()
	})
	a.OnModerate(func(room string, m Moderation) {
		if err := b.ApplyModeration(room, m); err != nil {
			t.Errorf("apply %+v: %v", m, err)
		}
	})
	host, _ := join(t, a, "r", "host", true)
	troll, trollRec := join(t, b, "r", "troll", false)
	_, fanRec := join(t, b, "r", "fan", false)

	mustSend(t, troll, "spam")
	seq := b.rooms["r"].head.Load()
	if err := do(t, host, map[string]any{"type": "delete", "seq": seq}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the delete reaches the other hub", func() bool {
		d := fanRec.ofType(t, TypeDeleted)
		return len(d) == 1 && d[0].Seq == seq
	})
	if err := do(t, host, map[string]any{"type": "timeout", "identity": "troll", "seconds": 60}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the timeout reaches the other hub", func() bool { return len(fanRec.ofType(t, TypeTimedOut)) == 1 })
	if err := send(t, troll, "s2", "more"); code(err) != CodeTimedOut {
		t.Fatalf("a timed-out sender on the other hub: %v; want timed_out", err)
	}
	if err := do(t, host, map[string]any{"type": "ban", "identity": "troll"}); err != nil {
		t.Fatal(err)
	}
	kickedMu.Lock()
	got := kicked
	kickedMu.Unlock()
	if len(got) != 1 || got[0] != "r/troll" {
		t.Fatalf("the other hub's room layer was told to disconnect %v; want [r/troll]", got)
	}
	if len(b.rooms["r"].withIdentity("troll")) != 0 {
		t.Fatal("the banned member is still in the other hub's chat")
	}
	before := trollRec.frameCount()
	mustSend(t, host, "after the ban")
	if trollRec.frameCount() != before {
		t.Fatal("the banned member still receives messages")
	}
}

// Malformed actions from another node are refused, never applied.
func TestModerationMalformed(t *testing.T) {
	h, _ := newTestHub(t, Config{})
	_, rec := join(t, h, "r", "fan", false)
	for _, m := range []Moderation{
		{}, {Type: "dance"}, {Type: TypeDelete}, {Type: TypeBan}, {Type: TypeKick},
		{Type: TypeTimeout}, {Type: TypeSlowMode, Seconds: -1}, {Type: TypeSlowMode, Seconds: 1 << 40},
	} {
		if err := h.ApplyModeration("r", m); !errors.Is(err, ErrBadModeration) {
			t.Errorf("%+v: %v; want ErrBadModeration", m, err)
		}
	}
	if err := h.ApplyModeration("elsewhere", Moderation{Type: TypeClear}); err != nil {
		t.Errorf("an action for a room with no members here: %v", err)
	}
	if n := rec.frameCount(); n != 0 {
		t.Fatalf("the member received %d frames from refused actions", n)
	}
}
