package store

import (
	"context"
	"errors"
	"fmt"
)

// Reading a room's history needs the stream position of a room sequence. Room
// sequences grow with stream positions, but other rooms' messages interleave and
// deleted ones leave holes, so the position is found by search: gallop back
// from the room's newest message (recent history is the common read), then
// bisect, each probe one direct get of "the room's first message at or after
// position p". That is O(log distance) round trips, then one batched read.

// ChatHistory returns up to limit of the room's messages with Seq < beforeSeq
// (beforeSeq 0: the newest), in ascending Seq order. Deleted messages are
// skipped, older ones taking their places. A limit <= 0 or above
// MaxHistoryLimit means MaxHistoryLimit.
func (s *Store) ChatHistory(ctx context.Context, room string, beforeSeq uint64, limit int) ([]ChatMessage, error) {
	subj, err := roomChat(room)
	if err != nil {
		return nil, fmt.Errorf("store: chat history: %w", err)
	}
	out, err := s.history(ctx, subj.msgs, beforeSeq, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: chat history of room %q before %d: %w", room, beforeSeq, err)
	}
	if out == nil {
		out = []ChatMessage{} // an empty list, not JSON null, for API callers
	}
	return out, nil
}

func (s *Store) history(ctx context.Context, msgs string, beforeSeq uint64, limit int) ([]ChatMessage, error) {
	first, last, ok, err := s.ends(ctx, msgs)
	if err != nil || !ok {
		return nil, err
	}
	end := last.seq + 1 // exclusive
	if beforeSeq != 0 && beforeSeq < end {
		end = beforeSeq
	}
	var out []ChatMessage
	// Each round reads the window just below end that would fill the page if
	// nothing in it were deleted; holes leave the page short, so go on below.
	for len(out) < limit && end > first.seq {
		need := limit - len(out)
		lo := first.seq
		if end-first.seq > uint64(need) {
			lo = end - uint64(need)
		}
		start, ok, err := s.lowerBound(ctx, msgs, lo, first, last)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		page := make([]ChatMessage, 0, need)
		err = s.directScan(ctx, chatStream, msgs, start.pos, need, func(m rawMsg) (bool, error) {
			c, err := decodeChat(m)
			if err != nil {
				return false, err
			}
			if c.Seq >= end {
				return false, nil
			}
			page = append(page, c)
			return len(page) < need, nil
		})
		if err != nil {
			return nil, err
		}
		out = append(page, out...)
		end = lo
	}
	return out, nil
}

// ChatSince returns up to limit of the room's messages with Seq > afterSeq, in
// ascending order: what a client that saw afterSeq has missed. A limit <= 0 or
// above MaxHistoryLimit means MaxHistoryLimit.
func (s *Store) ChatSince(ctx context.Context, room string, afterSeq uint64, limit int) ([]ChatMessage, error) {
	subj, err := roomChat(room)
	if err != nil {
		return nil, fmt.Errorf("store: chat since: %w", err)
	}
	out, err := s.since(ctx, subj.msgs, afterSeq, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: chat of room %q since %d: %w", room, afterSeq, err)
	}
	if out == nil {
		out = []ChatMessage{}
	}
	return out, nil
}

func (s *Store) since(ctx context.Context, msgs string, afterSeq uint64, limit int) ([]ChatMessage, error) {
	first, last, ok, err := s.ends(ctx, msgs)
	if err != nil || !ok || last.seq <= afterSeq {
		return nil, err
	}
	start, ok, err := s.lowerBound(ctx, msgs, afterSeq+1, first, last)
	if err != nil || !ok {
		return nil, err
	}
	out := make([]ChatMessage, 0, min(limit, int(min(last.seq-afterSeq, MaxHistoryLimit))))
	err = s.directScan(ctx, chatStream, msgs, start.pos, limit, func(m rawMsg) (bool, error) {
		c, err := decodeChat(m)
		if err != nil {
			return false, err
		}
		out = append(out, c)
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// findChat returns the record of message seq on subject msgs, if it exists.
func (s *Store) findChat(ctx context.Context, msgs string, seq uint64) (rec, bool, error) {
	first, last, ok, err := s.ends(ctx, msgs)
	if err != nil || !ok || seq > last.seq || seq < first.seq {
		return rec{}, false, err
	}
	r, ok, err := s.lowerBound(ctx, msgs, seq, first, last)
	if err != nil || !ok || r.seq != seq {
		return rec{}, false, err
	}
	return r, true, nil
}

// ends returns the oldest and newest records on msgs; ok is false when there
// are none.
func (s *Store) ends(ctx context.Context, msgs string) (first, last rec, ok bool, err error) {
	last, err = s.tail(ctx, msgs)
	if err != nil || last.pos == 0 {
		return rec{}, rec{}, false, err
	}
	first, ok, err = s.probe(ctx, msgs, 1)
	if err != nil || !ok {
		return rec{}, rec{}, false, err
	}
	return first, last, true, nil
}

// probe returns the first record on msgs at or after stream position pos.
func (s *Store) probe(ctx context.Context, msgs string, pos uint64) (rec, bool, error) {
	m, err := s.directGet(ctx, chatStream, getRequest{Seq: pos, NextFor: msgs})
	if errors.Is(err, errNoMsg) {
		return rec{}, false, nil
	}
	if err != nil {
		return rec{}, false, err
	}
	r, err := recOf(m)
	return r, err == nil, err
}

// lowerBound returns the first record on msgs whose room sequence is at least
// target, given the subject's first and last records and last.seq >= target.
// ok is false only if concurrent deletes removed what it was looking at.
func (s *Store) lowerBound(ctx context.Context, msgs string, target uint64, first, last rec) (rec, bool, error) {
	if first.seq >= target {
		return first, true, nil
	}
	// Invariants: the record at lo has seq < target; cand has seq >= target and
	// no record lies in [hi, cand.pos), so the answer is cand or lies in (lo, hi).
	lo, hi, cand := first.pos, last.pos, last
	// Gallop: a room's recent messages sit near the end of the stream, and at
	// least (seq distance) positions back.
	for step := last.seq - target + 1; hi-lo > 1; step *= 2 {
		if hi-lo <= step {
			break
		}
		r, ok, err := s.probe(ctx, msgs, hi-step)
		if err != nil || !ok {
			return rec{}, false, err
		}
		if r.seq < target {
			lo = r.pos
			break
		}
		cand, hi = r, hi-step
	}
	// Bisect.
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		r, ok, err := s.probe(ctx, msgs, mid)
		if err != nil || !ok {
			return rec{}, false, err
		}
		if r.seq >= target {
			cand, hi = r, mid
		} else {
			lo = r.pos
		}
	}
	return cand, true, nil
}

func clampLimit(limit int) int {
	if limit <= 0 || limit > MaxHistoryLimit {
		return MaxHistoryLimit
	}
	return limit
}
