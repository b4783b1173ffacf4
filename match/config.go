package match

import (
	"fmt"
	"time"
)

// Widening is one step in relaxing a waiting user's preferences: once the user
// has waited After, the preferences named in Drop stop applying to it, in both
// directions (it accepts more partners, and partners no longer need to satisfy
// those preferences of its).
type Widening struct {
	After time.Duration
	// Drop names preferences by key (Gender, Language, Country) or Interests.
	Drop []string
}

// Config configures a Queue. Zero values take the defaults named on each field.
type Config struct {
	// Widen lists the widening steps in increasing After, each After > 0. A user
	// at stage s has had the first s steps applied; stage 0 is its preferences as
	// given. Default none: preferences never widen. A typical ladder:
	//
	//	[]match.Widening{
	//		{After: 10 * time.Second, Drop: []string{match.Interests}},
	//		{After: 30 * time.Second, Drop: []string{match.Gender, match.Language, match.Country}},
	//	}
	//
	// after which only blocks (and Profile.Skip) keep a pair apart.
	Widen []Widening
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Blocks is the set of pairs never matched. Default a new MemBlocks.
	Blocks Blocks
	// MaxWaiting caps the users waiting at once; Enqueue returns ErrFull beyond it.
	// Default 0: no cap.
	MaxWaiting int
}

// keepMasks validates the widening steps and returns, for each stage, the mask of
// preferences that still apply (bit d for keys[d], interestBit for interests).
func keepMasks(steps []Widening) ([]uint8, error) {
	keep := make([]uint8, 1, len(steps)+1)
	keep[0] = 1<<numKeys - 1 | interestBit
	for i, w := range steps {
		if w.After <= 0 {
			return nil, fmt.Errorf("%w: widening step %d waits %v; it must wait more than zero", ErrInvalidConfig, i+1, w.After)
		}
		if i > 0 && w.After <= steps[i-1].After {
			return nil, fmt.Errorf("%w: widening step %d (%v) is not after step %d (%v)", ErrInvalidConfig, i+1, w.After, i, steps[i-1].After)
		}
		m := keep[i]
		for _, name := range w.Drop {
			switch d := keyIndex(name); {
			case name == Interests:
				m &^= interestBit
			case d >= 0:
				m &^= 1 << d
			default:
				return nil, fmt.Errorf("%w: widening step %d drops %q, which is neither a key nor %q", ErrInvalidConfig, i+1, name, Interests)
			}
		}
		keep = append(keep, m)
	}
	return keep, nil
}
