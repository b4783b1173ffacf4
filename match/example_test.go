package match_test

import (
	"fmt"
	"time"

	"github.com/talkrelay/talkrelay/match"
)

// A service enqueues users as they ask for a partner, starts a call for each
// match, and runs Tick on a timer so that waiting users' preferences widen.
func Example() {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	q, err := match.NewQueue(match.Config{
		Widen: []match.Widening{
			{After: 10 * time.Second, Drop: []string{match.Interests}},
			{After: 30 * time.Second, Drop: []string{match.Gender, match.Language, match.Country}},
		},
		Now: func() time.Time { return now }, // a real service leaves the default clock
	})
	if err != nil {
		panic(err)
	}
	minho := match.Profile{
		Attrs:     map[string]string{match.Gender: "m", match.Language: "ko"},
		Interests: []string{"films", "hiking"},
		Want: match.Preferences{
			Attrs:          map[string][]string{match.Gender: {"f"}, match.Language: {"ko", "en"}},
			CommonInterest: true,
		},
	}
	jane := match.Profile{
		Attrs:     map[string]string{match.Gender: "f", match.Language: "en"},
		Interests: []string{"music"},
	}
	_, matched, _ := q.Enqueue("minho", minho)
	fmt.Println("minho matched:", matched)
	_, matched, _ = q.Enqueue("jane", jane)
	fmt.Println("jane matched:", matched, "(no common interest yet)")

	now = now.Add(10 * time.Second) // the owner's timer fires at q.NextDeadline()
	for _, p := range q.Tick() {
		fmt.Println("call:", p.A, "with", p.B)
	}

	// "Next": jane leaves minho. Both go back in as new arrivals, each skipping
	// the other so they are not paired straight back.
	minho.Skip, jane.Skip = "jane", "minho"
	q.Enqueue("minho", minho)
	q.Enqueue("jane", jane)
	fmt.Println("waiting:", q.Len())
	// Output:
	// minho matched: false
	// jane matched: false (no common interest yet)
	// call: minho with jane
	// waiting: 2
}
