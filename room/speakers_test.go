package room

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/media"
)

// voiceSim is a room's speakers on a fake clock: each sends a 20 ms packet
// with its level (-dBov) into its meter, as a feed's reader does, and the
// selector runs every speakerTick.
type voiceSim struct {
	t      *testing.T
	now    int64 // Unix ns
	ids    []string
	level  map[string]uint8
	silent map[string]bool // sends no packets
	muted  map[string]bool
	meters map[string]*media.LevelMeter
	sel    *speakerSelector
	levels []speakerLevel
	// burst, when above 1, delivers packets that many at a time (network
	// jitter): each waits for the last of its burst; speakers' bursts are
	// out of step.
	burst int
	sent  int
}

func newVoiceSim(t *testing.T, levels ...uint8) *voiceSim {
	s := &voiceSim{t: t, now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(),
		level: map[string]uint8{}, silent: map[string]bool{}, muted: map[string]bool{}, meters: map[string]*media.LevelMeter{}, sel: newSpeakerSelector()}
	for i, l := range levels {
		id := fmt.Sprintf("s%d", i)
		s.ids = append(s.ids, id)
		s.level[id] = l
		s.meters[id] = &media.LevelMeter{}
	}
	return s
}

// run advances the clock by d; it returns the simulated time at which
// cond first held after a selection round, or -1.
func (s *voiceSim) run(d time.Duration, cond func() bool) time.Duration {
	const packet = 20 * time.Millisecond
	for elapsed := time.Duration(0); elapsed < d; {
		elapsed += packet
		s.now += int64(packet)
		s.sent++
		for i, id := range s.ids {
			if s.burst > 1 && (s.sent+i)%s.burst != 0 {
				continue
			}
			for range max(s.burst, 1) {
				if !s.silent[id] {
					s.meters[id].Observe(s.level[id], s.now)
				}
			}
		}
		if elapsed%speakerTick == 0 {
			s.round()
			if cond != nil && cond() {
				return elapsed
			}
		}
	}
	return -1
}

func (s *voiceSim) round() bool {
	s.levels = s.levels[:0]
	for _, id := range s.ids {
		s.levels = append(s.levels, speakerLevel{identity: id, loudness: s.meters[id].Loudness(s.now), eligible: !s.muted[id]})
	}
	return s.sel.update(s.levels)
}

func (s *voiceSim) expect(active []string, next string) {
	s.t.Helper()
	if !slices.Equal(s.sel.active, active) || s.sel.next != next {
		s.t.Fatalf("active %v next %q, want %v next %q", s.sel.active, s.sel.next, active, next)
	}
}

func TestSelectorPicksTheLoudestThree(t *testing.T) {
	// Ten speakers 5 dB apart, s0 the loudest; the first to make a sound
	// fill the places at once, louder ones win them within a few rounds.
	s := newVoiceSim(t, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55)
	s.run(2*time.Second, nil)
	s.expect([]string{"s0", "s1", "s2"}, "s3")
}

func TestSelectorSwitchesWithinHalfASecond(t *testing.T) {
	s := newVoiceSim(t, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55)
	s.run(2*time.Second, nil)
	// The quietest starts shouting: it must replace s2 (the quietest active
	// speaker) within 500 ms of simulated time, hysteresis included.
	s.level["s9"] = 5
	took := s.run(2*time.Second, func() bool { return s.sel.isActive("s9") })
	if took < 0 || took > 500*time.Millisecond {
		t.Fatalf("s9 became active after %v, want within 500 ms", took)
	}
	t.Logf("a new loudest speaker became active after %v", took)
	s.run(time.Second, nil)
	s.expect([]string{"s9", "s0", "s1"}, "s2")

	// Two speakers swap levels at once: the swap completes within 500 ms too.
	s.level["s1"], s.level["s3"] = 25, 15
	took = s.run(2*time.Second, func() bool { return s.sel.isActive("s3") && !s.sel.isActive("s1") })
	if took < 0 || took > 500*time.Millisecond {
		t.Fatalf("s3 replaced s1 after %v, want within 500 ms", took)
	}
	t.Logf("a swap of levels completed after %v", took)
	// A speaker who falls silent (sends nothing) is outshouted by anyone.
	s.silent["s9"] = true
	took = s.run(2*time.Second, func() bool { return !s.sel.isActive("s9") })
	if took < 0 || took > 500*time.Millisecond {
		t.Fatalf("silent s9 left after %v, want within 500 ms", took)
	}
	t.Logf("a speaker gone silent was replaced after %v", took)
	s.expect([]string{"s0", "s3", "s2"}, "s1")
}

func TestSelectorIgnoresJitter(t *testing.T) {
	s := newVoiceSim(t, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55)
	s.run(2*time.Second, nil)
	// Packets now come four at a time, 80 ms apart: nothing changes.
	s.burst = 4
	if took := s.run(5*time.Second, func() bool { return !slices.Equal(s.sel.active, []string{"s0", "s1", "s2"}) || s.sel.next != "s3" }); took >= 0 {
		t.Fatalf("jitter changed the selection after %v: active %v next %q", took, s.sel.active, s.sel.next)
	}
}

func TestSelectorHysteresis(t *testing.T) {
	at := func(loud ...int) []speakerLevel {
		var out []speakerLevel
		for i, l := range loud {
			out = append(out, speakerLevel{identity: fmt.Sprintf("s%d", i), loudness: l * media.LoudnessScale, eligible: true})
		}
		return out
	}
	sel := newSpeakerSelector()
	if !sel.update(at(90, 80, 70, 60)) || !slices.Equal(sel.active, []string{"s0", "s1", "s2"}) || sel.next != "s3" {
		t.Fatalf("first round: active %v next %q", sel.active, sel.next)
	}
	// Within the margin: never switches.
	for range 20 {
		if sel.update(at(90, 80, 70, 73)) {
			t.Fatalf("a challenger 3 dB ahead switched: %v", sel.active)
		}
	}
	// Ahead by more than the margin for one round only: no switch.
	if sel.update(at(90, 80, 70, 80)) || sel.update(at(90, 80, 70, 70)) {
		t.Fatalf("a one-round lead switched: %v", sel.active)
	}
	// For speakerHold rounds: it takes the quietest place, and the order
	// follows loudness.
	if sel.update(at(90, 80, 70, 80)) {
		t.Fatal("switched after one round")
	}
	if !sel.update(at(90, 80, 70, 80)) || !slices.Equal(sel.active, []string{"s0", "s1", "s3"}) || sel.next != "s2" {
		t.Fatalf("after %d rounds ahead: active %v next %q", speakerHold, sel.active, sel.next)
	}
	// Order changes alone are no change.
	if sel.update(at(60, 95, 70, 85)) || !slices.Equal(sel.active, []string{"s1", "s3", "s0"}) {
		t.Fatalf("reordered: active %v", sel.active)
	}
}

func TestSelectorDropsMutedAndGoneAtOnce(t *testing.T) {
	sel := newSpeakerSelector()
	lv := []speakerLevel{
		{"a", 90 * media.LoudnessScale, true}, {"b", 80 * media.LoudnessScale, true},
		{"c", 70 * media.LoudnessScale, true}, {"d", 0, true},
	}
	sel.update(lv)
	lv[1].eligible = false // b muted
	if !sel.update(lv) || sel.isActive("b") {
		t.Fatalf("muted b still active: %v", sel.active)
	}
	// d sends only silence: it takes no free place, nor the next one.
	if len(sel.active) != 2 || sel.next != "" {
		t.Fatalf("active %v next %q, want a and c and nobody next", sel.active, sel.next)
	}
	if !sel.update(lv[2:]) || !slices.Equal(sel.active, []string{"c"}) {
		t.Fatalf("a left, active %v", sel.active)
	}
	if !sel.update(nil) || len(sel.active) != 0 || sel.next != "" {
		t.Fatalf("everyone left, active %v next %q", sel.active, sel.next)
	}
}

func TestSelectorNextIsSticky(t *testing.T) {
	sel := newSpeakerSelector()
	lv := []speakerLevel{
		{"a", 90 * media.LoudnessScale, true}, {"b", 80 * media.LoudnessScale, true}, {"c", 70 * media.LoudnessScale, true},
		{"d", 50 * media.LoudnessScale, true}, {"e", 48 * media.LoudnessScale, true},
	}
	sel.update(lv)
	if sel.next != "d" {
		t.Fatalf("next %q, want d", sel.next)
	}
	lv[4].loudness = 52 * media.LoudnessScale // e edges ahead, within the margin
	sel.update(lv)
	if sel.next != "d" {
		t.Fatalf("next %q, want d kept", sel.next)
	}
	lv[4].loudness = 60 * media.LoudnessScale
	sel.update(lv)
	if sel.next != "e" {
		t.Fatalf("next %q, want e", sel.next)
	}
}

// BenchmarkSpeakerSelection measures one selection round of a group room:
// reading every speaker's loudness from its meter and updating the active
// set, with loudness drifting so that challengers come and go.
func BenchmarkSpeakerSelection(b *testing.B) {
	for _, n := range []int{3, 10, 50} {
		b.Run(fmt.Sprintf("speakers=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			meters := make([]media.LevelMeter, n)
			ids := make([]string, n)
			base := make([]int, n)
			for i := range n {
				ids[i] = fmt.Sprintf("speaker-%d", i)
				base[i] = 20 + rng.IntN(60)
			}
			sel := newSpeakerSelector()
			levels := make([]speakerLevel, 0, n)
			now := time.Now().UnixNano()
			changes := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				// 100 ms of packets: five per speaker, levels wandering.
				for range 5 {
					now += int64(20 * time.Millisecond)
					for i := range meters {
						base[i] = min(max(base[i]+rng.IntN(9)-4, 0), 127)
						meters[i].Observe(uint8(base[i]), now)
					}
				}
				b.StartTimer()
				levels = levels[:0]
				for i := range meters {
					levels = append(levels, speakerLevel{identity: ids[i], loudness: meters[i].Loudness(now), eligible: true})
				}
				if sel.update(levels) {
					changes++
				}
			}
			b.ReportMetric(float64(changes)/float64(b.N), "changes/round")
		})
	}
}
