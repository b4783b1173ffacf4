package room

import (
	"slices"
	"time"

	"github.com/talkrelay/talkrelay/media"
)

// Active speaker selection: a group room forwards to each participant only
// its few active speakers, chosen every speakerTick by loudness.
const (
	// activeSpeakers is how many speakers everyone hears.
	activeSpeakers = 3
	// speakerTick is how often the selection runs.
	speakerTick = 100 * time.Millisecond
	// speakerMargin is by how much a challenger must be louder than the
	// quietest active speaker to take its place, and speakerHold for how
	// many ticks in a row: a cough or two voices at about the same level
	// do not flip the selection back and forth.
	speakerMargin = 4 * media.LoudnessScale // dB
	speakerHold   = 2
	// speakerFloor is the loudness a speaker needs to take a free place:
	// someone who sends only silence is not an active speaker.
	speakerFloor = media.LoudnessScale // 1 dB above silence
)

// speakerLevel is one candidate of a selection round.
type speakerLevel struct {
	identity string
	loudness int  // smoothed, in 1/media.LoudnessScale dB above silence
	eligible bool // publishing and not muted
}

// speakerSelector picks a room's active speakers with hysteresis. It is a
// pure state machine (the caller supplies loudness, so a test drives it
// with a fake clock) and allocates nothing once warm. Not safe for
// concurrent use: a room calls it under its lock.
type speakerSelector struct {
	// active are the speakers everyone hears, loudest first at the last
	// update; they stay until they leave, mute or are outshouted.
	active []string
	// next is the loudest speaker after the active ones, "" if none: the
	// active speakers hear it instead of themselves.
	next string
	// streak counts the consecutive rounds each challenger led the
	// quietest active speaker by the margin.
	streak map[string]int
	// loud is active's loudness in the current round (scratch).
	loud []int
}

func newSpeakerSelector() *speakerSelector {
	return &speakerSelector{
		active: make([]string, 0, activeSpeakers),
		loud:   make([]int, 0, activeSpeakers),
		streak: map[string]int{},
	}
}

// update runs one selection round over levels (each identity once) and
// reports whether the set of active speakers changed; their order (loudest
// first) and next are updated either way.
func (s *speakerSelector) update(levels []speakerLevel) (changed bool) {
	// Who is active now: gone, muted or silenced speakers leave at once.
	s.loud = s.loud[:0]
	kept := s.active[:0]
	for _, id := range s.active {
		if i := indexOf(levels, id); i >= 0 && levels[i].eligible {
			kept = append(kept, id)
			s.loud = append(s.loud, levels[i].loudness)
		} else {
			changed = true
		}
	}
	s.active = kept
	// Free places go to the loudest speakers who make any sound.
	for len(s.active) < activeSpeakers {
		c := s.loudestOutside(levels, speakerFloor)
		if c < 0 {
			break
		}
		s.active = append(s.active, levels[c].identity)
		s.loud = append(s.loud, levels[c].loudness)
		delete(s.streak, levels[c].identity)
		changed = true
	}
	// Challengers: each must lead the quietest active speaker by the margin
	// for speakerHold rounds in a row.
	if len(s.active) == activeSpeakers {
		w := s.quietest()
		for i := range levels {
			l := &levels[i]
			if !l.eligible || slices.Contains(s.active, l.identity) {
				continue
			}
			if l.loudness > s.loud[w]+speakerMargin {
				s.streak[l.identity]++
			} else if s.streak[l.identity] != 0 {
				delete(s.streak, l.identity)
			}
		}
		for {
			c := s.strongestChallenger(levels, s.loud[w])
			if c < 0 {
				break
			}
			delete(s.streak, levels[c].identity)
			s.active[w], s.loud[w] = levels[c].identity, levels[c].loudness
			changed = true
			w = s.quietest()
		}
	}
	for id := range s.streak {
		if i := indexOf(levels, id); i < 0 || !levels[i].eligible {
			delete(s.streak, id) // left or muted: its streak ends
		}
	}
	s.sortActive()
	s.pickNext(levels)
	return changed
}

// loudestOutside returns the index of the loudest eligible speaker not
// active and louder than floor, or -1.
func (s *speakerSelector) loudestOutside(levels []speakerLevel, floor int) int {
	best := -1
	for i := range levels {
		l := &levels[i]
		if !l.eligible || l.loudness <= floor || slices.Contains(s.active, l.identity) {
			continue
		}
		if best < 0 || l.loudness > levels[best].loudness {
			best = i
		}
	}
	return best
}

// strongestChallenger returns the index of the loudest challenger that has
// held its lead long enough and still leads weakest by the margin, or -1.
func (s *speakerSelector) strongestChallenger(levels []speakerLevel, weakest int) int {
	best := -1
	for i := range levels {
		l := &levels[i]
		if !l.eligible || s.streak[l.identity] < speakerHold || l.loudness <= weakest+speakerMargin || slices.Contains(s.active, l.identity) {
			continue
		}
		if best < 0 || l.loudness > levels[best].loudness {
			best = i
		}
	}
	return best
}

// quietest returns the index in active of its quietest speaker.
func (s *speakerSelector) quietest() int {
	w := 0
	for i, l := range s.loud {
		if l < s.loud[w] {
			w = i
		}
	}
	return w
}

// sortActive orders active loudest first (insertion sort: three entries).
func (s *speakerSelector) sortActive() {
	for i := 1; i < len(s.active); i++ {
		for j := i; j > 0 && s.loud[j] > s.loud[j-1]; j-- {
			s.active[j], s.active[j-1] = s.active[j-1], s.active[j]
			s.loud[j], s.loud[j-1] = s.loud[j-1], s.loud[j]
		}
	}
}

// pickNext keeps the speaker after the active ones unless another is louder
// by the margin; it must make some sound.
func (s *speakerSelector) pickNext(levels []speakerLevel) {
	c := s.loudestOutside(levels, speakerFloor)
	if c < 0 {
		s.next = ""
		return
	}
	if i := indexOf(levels, s.next); i >= 0 && s.next != levels[c].identity {
		cur := &levels[i]
		if cur.eligible && cur.loudness > speakerFloor && !slices.Contains(s.active, s.next) &&
			levels[c].loudness <= cur.loudness+speakerMargin {
			return
		}
	}
	s.next = levels[c].identity
}

// isActive reports whether identity is an active speaker.
func (s *speakerSelector) isActive(identity string) bool { return slices.Contains(s.active, identity) }

func indexOf(levels []speakerLevel, identity string) int {
	if identity == "" {
		return -1
	}
	for i := range levels {
		if levels[i].identity == identity {
			return i
		}
	}
	return -1
}
