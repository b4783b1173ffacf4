package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/match"
)

// BenchmarkMatchQueue runs random video chat's matching at the scale the product
// sees (20,000 users typical, 50,000 at peak): each op is one round in which n
// users with realistic attributes and preferences arrive over 60 s of simulated
// time (so the waiting pool grows with n), widening runs from the deadline the
// queue reports, and a final minute widens everyone left. matches/s is pairs made
// per second of process CPU time (user + system, GC included), like the fan-out
// figures: the machine is shared, so wall time is noisy. Per-match cost must not
// grow with n. peak-waiting is the largest queue seen.
func BenchmarkMatchQueue(b *testing.B) {
	for _, n := range []int{5_000, 20_000, 50_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(n), 1))
			profiles := make([]match.Profile, n)
			for i := range profiles {
				profiles[i] = benchProfile(rng)
			}
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprint("user-", i)
			}
			step := time.Minute / time.Duration(n)
			matches, peak := 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for range b.N {
				now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
				q, err := match.NewQueue(match.Config{
					Widen: []match.Widening{
						{After: 10 * time.Second, Drop: []string{match.Interests}},
						{After: 30 * time.Second, Drop: []string{match.Gender, match.Language, match.Country}},
					},
					Now: func() time.Time { return now },
				})
				if err != nil {
					b.Fatal(err)
				}
				for i, p := range profiles {
					now = now.Add(step)
					if d, ok := q.NextDeadline(); ok && !d.After(now) {
						matches += len(q.Tick())
					}
					_, ok, err := q.Enqueue(ids[i], p)
					if err != nil {
						b.Fatal(err)
					}
					if ok {
						matches++
					}
					peak = max(peak, q.Len())
				}
				now = now.Add(time.Minute)
				matches += len(q.Tick())
			}
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			b.ReportMetric(float64(matches)/cpu.Seconds(), "matches/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(matches), "ns/match")
			b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
			b.ReportMetric(float64(peak), "peak-waiting")
		})
	}
}

// BenchmarkMatchQueueBacklog measures one match against a standing pool of n
// waiting users: n men who want women (and in part a language, a country or a
// shared interest) wait; each op enqueues a woman, who takes the longest-waiting
// man compatible with her, and one more man, so the pool stays at n (a woman no
// man suits, about one in ten, is removed instead). ns/op is per woman; it should
// grow with log n, not with n.
func BenchmarkMatchQueueBacklog(b *testing.B) {
	for _, n := range []int{5_000, 20_000, 50_000} {
		b.Run(fmt.Sprintf("waiting=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(n), 2))
			const distinct = 1 << 12 // profiles are drawn from a fixed set, reused
			men, women := make([]match.Profile, distinct), make([]match.Profile, distinct)
			for i := range distinct {
				men[i], women[i] = benchProfileOf(rng, "m"), benchProfileOf(rng, "f")
				men[i].Want.Attrs[match.Gender] = []string{"f"}
			}
			q, err := match.NewQueue(match.Config{})
			if err != nil {
				b.Fatal(err)
			}
			manIDs := make([]string, n+b.N)
			for i := range manIDs {
				manIDs[i] = fmt.Sprint("m", i)
			}
			next := 0
			enqueueMan := func() {
				if _, ok, err := q.Enqueue(manIDs[next], men[next%distinct]); err != nil || ok {
					b.Fatal("a man was matched or refused: ", err)
				}
				next++
			}
			for range n {
				enqueueMan()
			}
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = fmt.Sprint("f", i)
			}
			matches := 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for i := range b.N {
				if _, ok, err := q.Enqueue(ids[i], women[i%distinct]); err != nil {
					b.Fatal(err)
				} else if ok {
					matches++
					enqueueMan()
				} else {
					q.Remove(ids[i])
				}
			}
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			if q.Len() != n {
				b.Fatalf("pool is %d, want %d", q.Len(), n)
			}
			b.ReportMetric(float64(matches)/cpu.Seconds(), "matches/s")
			b.ReportMetric(float64(matches)/float64(b.N), "matched-share")
		})
	}
}

// benchProfile draws one user: more men than women, most men wanting women, a
// language-country mix, zero to five interests from a skewed catalogue.
func benchProfile(rng *rand.Rand) match.Profile {
	gender := ""
	switch g := rng.IntN(100); {
	case g < 58:
		gender = "m"
	case g < 95:
		gender = "f"
	case g < 98:
		gender = "x"
	}
	return benchProfileOf(rng, gender)
}

// benchProfileOf draws a user of the given gender ("" for undeclared).
func benchProfileOf(rng *rand.Rand, gender string) match.Profile {
	type lang struct {
		code      string
		share     int
		countries []string
	}
	langs := []lang{
		{"ko", 30, []string{"KR"}}, {"en", 30, []string{"US", "GB", "CA", "AU", "IN"}},
		{"es", 10, []string{"ES", "MX", "AR"}}, {"ja", 8, []string{"JP"}},
		{"pt", 7, []string{"BR", "PT"}}, {"de", 5, []string{"DE", "AT"}},
		{"fr", 5, []string{"FR", "CA"}}, {"zh", 5, []string{"CN", "TW"}},
	}
	r := rng.IntN(100)
	l := langs[0]
	for _, c := range langs {
		if r < c.share {
			l = c
			break
		}
		r -= c.share
	}
	p := match.Profile{Attrs: map[string]string{
		match.Language: l.code,
		match.Country:  l.countries[rng.IntN(len(l.countries))],
	}}
	want := map[string][]string{}
	if gender != "" {
		p.Attrs[match.Gender] = gender
	}
	switch x := rng.IntN(100); gender {
	case "m":
		if x < 70 {
			want[match.Gender] = []string{"f"}
		} else if x < 75 {
			want[match.Gender] = []string{"m"}
		}
	case "f":
		if x < 40 {
			want[match.Gender] = []string{"m"}
		} else if x < 50 {
			want[match.Gender] = []string{"f"}
		}
	}
	switch x := rng.IntN(100); {
	case x < 55:
		want[match.Language] = []string{l.code}
	case x < 80 && l.code != "en":
		want[match.Language] = []string{l.code, "en"}
	}
	if rng.IntN(100) < 15 {
		want[match.Country] = []string{p.Attrs[match.Country]}
	}
	p.Want.Attrs = want
	for range rng.IntN(6) {
		// Squaring skews the catalogue: low-numbered tags are the popular ones.
		f := rng.Float64()
		p.Interests = append(p.Interests, fmt.Sprint("tag", int(f*f*40)))
	}
	p.Want.CommonInterest = len(p.Interests) > 0 && rng.IntN(100) < 30
	return p
}
