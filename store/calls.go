package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/talkrelay/talkrelay/call"
)

// Each user's call history is a journal in the calls stream, subject
// "talkrelay.call.<identity token>"; a call is in its caller's and its callee's.

// maxCallsPerUser is how many calls a user's history keeps; older ones fall off.
const maxCallsPerUser = 1000

// Limits of a Calls page.
const (
	DefaultCallsLimit = 50
	MaxCallsLimit     = 500
)

func callSubject(identity string) (string, error) {
	tok, err := token("identity", identity)
	if err != nil {
		return "", err
	}
	return callPrefix + tok, nil
}

// SaveCall appends rec to its caller's and its callee's call history (once
// when they are the same) (call.Store). Saving the same record ID again within
// two minutes stores it once per history, so a retry after a failure between
// the two appends completes the second without doubling the first.
func (s *Store) SaveCall(ctx context.Context, rec call.Record) error {
	fail := func(err error) error {
		return fmt.Errorf("store: save call %q from %q to %q: %w", rec.ID, rec.Caller, rec.Callee, err)
	}
	// Check both names before writing either.
	caller, err := callSubject(rec.Caller)
	if err != nil {
		return fail(err)
	}
	callee, err := callSubject(rec.Callee)
	if err != nil {
		return fail(err)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fail(fmt.Errorf("encode: %w", err))
	}
	subjects := []string{caller}
	if callee != caller {
		subjects = append(subjects, callee)
	}
	for _, subj := range subjects {
		msg := nats.NewMsg(subj)
		msg.Data = data
		if rec.ID != "" {
			// Per subject, as appendJSON does: the same ID in two histories is
			// two messages, not a duplicate.
			msg.Header.Set(jetstream.MsgIDHeader, subj+" "+rec.ID)
		}
		if _, err := s.js.PublishMsg(ctx, msg); err != nil {
			return fail(fmt.Errorf("publish: %w", err))
		}
	}
	return nil
}

// Calls returns identity's call history, newest first (call.Store): at most
// limit records, which is clamped to 1..MaxCallsLimit, 0 or less meaning
// DefaultCallsLimit. A user without calls has an empty, non-nil list.
func (s *Store) Calls(ctx context.Context, identity string, limit int) ([]call.Record, error) {
	switch {
	case limit <= 0:
		limit = DefaultCallsLimit
	case limit > MaxCallsLimit:
		limit = MaxCallsLimit
	}
	subj, err := callSubject(identity)
	if err != nil {
		return nil, fmt.Errorf("store: calls of %q: %w", identity, err)
	}
	// A history is at most maxCallsPerUser records, and other users' calls
	// interleave in the stream, so read it whole and keep the tail; a ring
	// of limit slots holds the newest seen so far.
	ring := make([]call.Record, 0, limit)
	n := 0 // records seen; the oldest kept is at n % limit once the ring is full
	err = s.directScan(ctx, callStream, subj, 1, 256, func(m rawMsg) (bool, error) {
		var rec call.Record
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			return false, fmt.Errorf("decode record %d of %s: %w", m.Seq, callStream, err)
		}
		if len(ring) < limit {
			ring = append(ring, rec)
		} else {
			ring[n%limit] = rec
		}
		n++
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: calls of %q: %w", identity, err)
	}
	// Oldest first from the ring's start, then newest first.
	if n > limit {
		start := n % limit
		ring = slices.Concat(ring[start:], ring[:start])
	}
	slices.Reverse(ring)
	return ring, nil
}
