// Package match is random video chat's matching core: a queue that pairs waiting
// users into 1:1 calls by declared attributes and two-way preferences, widening
// the preferences of those who wait, fairest to whoever has waited longest.
//
// It knows nothing of signalling, media or storage: the service enqueues users,
// starts a call for each pair returned, calls Tick for widening, and backs Blocks
// with its store. Reports are the moderation service's business; a report keeps a
// pair apart only if the service also calls Block.
//
// # Rules
//
// A user declares attributes (Gender, Language, Country: one value each),
// interests (a set) and preferences over a partner's attributes (a set of
// accepted values per key) and interests (at least one in common). Two users are
// compatible when each accepts the other at its current stage, the pair is not
// blocked, and neither skips the other. A user waits at stage 0 with all its
// preferences; each Config.Widen step drops some of them once the user has waited
// its After. A user with no preferences left is matched with anyone compatible.
//
// Fairness: a user entering the queue, or widening in Tick, is matched with the
// compatible waiting user who arrived first. Arrival is the order of Enqueue
// calls; "next" re-enqueues both users as new arrivals (see Queue.Enqueue).
//
// # Index and cost
//
// Waiting users are bucketed by signature: their own value for each key, and
// their effective preference for each key at their current stage. Users of one
// bucket accept and are accepted by exactly the same attribute values, so a
// search decides compatibility per bucket, not per user. The buckets are the
// leaves of a trie whose levels alternate between a key's own value and the
// preference on that key; a search follows only branches compatible so far (the
// values the searcher accepts; the preferences that accept the searcher's value)
// and, in each bucket reached, takes the root of a heap ordered by arrival. If
// either side requires a common interest it takes instead the roots of the
// bucket's per-interest heaps for the searcher's interests. Widening is driven by
// a heap of deadlines; no operation scans the waiting users.
//
// With n users waiting, B trie nodes visited by a search (the branches whose
// signature prefix suits the searcher, and their rejected siblings), I ≤
// MaxInterests interests and b candidates passed over because of a block or skip:
//
//   - Enqueue that matches: O(B·I + b² + I·log n) (the search, then removing the
//     partner from its heaps). Blocks.Has is called once per candidate that would
//     improve on the best so far, and once per candidate passed over.
//   - Enqueue that waits: the same search, then O(I·log n) to insert.
//   - Remove: O(I·log n).
//   - Tick: per due step O(log n), plus a search and a reinsertion if the step
//     dropped a preference the user holds.
//
// B is bounded by the combinations of values and preferences that occur among
// waiting users, not by n: with realistic profiles it stops growing long before
// n does (at most about 220 buckets in bench's 50,000-user run), so per-match
// cost grows with log n. It is not bounded by a constant, though: a searcher with
// no preferences left visits every bucket whose preferences accept it, and a
// population crafted so that every user has a distinct signature makes B grow
// with n. MaxWantValues and MaxInterests bound the per-user work, and
// Config.MaxWaiting bounds n.
package match
