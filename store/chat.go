package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// How a room's chat is laid out in the chat stream. Each room has two subjects:
//
//	talkrelay.chat.<room>.m  its messages, in order, each carrying its room sequence
//	talkrelay.chat.<room>.x  sequence markers: the room's highest sequence so far
//
// The newest record on talkrelay.chat.<room>.* always carries the room's highest
// sequence. An append reads that record and publishes sequence+1 on the condition
// that it is still the newest (JetStream's expected-last-subject-sequence check
// with the wildcard as subject), retrying on conflict: two appenders, even on two
// nodes, cannot both win, so sequences stay contiguous and unique. Deleting or
// clearing would remove the record carrying the highest sequence and make the
// next append reuse it; so they first publish a marker carrying it (under the
// same check), and only then remove messages.

// Kinds of chat message.
const (
	// KindUser is a message a participant typed.
	KindUser = "user"
	// KindSystem is a message the server wrote (joins, moderation notices).
	KindSystem = "system"
)

// MaxHistoryLimit caps how many messages one history call returns, bounding the
// work and reply size a single client request can cause.
const MaxHistoryLimit = 500

// hdrRoomSeq carries a record's room sequence, so sequence lookups need not
// decode message bodies.
const hdrRoomSeq = "Talkrelay-Seq"

// maxCASAttempts bounds the optimistic-concurrency retries of one write, so a
// pathological contention fails the call instead of spinning forever.
const maxCASAttempts = 1000

// ChatMessage is one stored chat message.
type ChatMessage struct {
	Room string    `json:"room"`
	Seq  uint64    `json:"seq"`  // per-room, contiguous from 1, assigned by AppendChat
	ID   string    `json:"id"`   // unique; assigned by AppendChat if empty
	From string    `json:"from"` // sender identity ("" for system messages)
	Name string    `json:"name"` // sender display name
	Text string    `json:"text"`
	Kind string    `json:"kind"` // KindUser or KindSystem
	At   time.Time `json:"at"`   // server time, set by AppendChat if zero
}

// chatSubjects are a room's subjects in the chat stream.
type chatSubjects struct {
	msgs, markers, all string
}

func roomChat(room string) (chatSubjects, error) {
	tok, err := roomToken(room)
	if err != nil {
		return chatSubjects{}, err
	}
	base := chatPrefix + tok
	return chatSubjects{msgs: base + ".m", markers: base + ".x", all: base + ".*"}, nil
}

// rec locates a chat record: its stream sequence and its room sequence.
type rec struct{ pos, seq uint64 }

func recOf(m rawMsg) (rec, error) {
	seq, err := strconv.ParseUint(m.Hdr.Get(hdrRoomSeq), 10, 64)
	if err != nil {
		return rec{}, fmt.Errorf("chat record %d: bad %s header: %w", m.Seq, hdrRoomSeq, err)
	}
	return rec{pos: m.Seq, seq: seq}, nil
}

// tail returns the newest record on subject (zero rec when there is none).
func (s *Store) tail(ctx context.Context, subject string) (rec, error) {
	m, err := s.directGet(ctx, chatStream, getRequest{LastFor: subject})
	if errors.Is(err, errNoMsg) {
		return rec{}, nil
	}
	if err != nil {
		return rec{}, err
	}
	return recOf(m)
}

// AppendChat stores m in its room with the next sequence and returns it as
// stored (Seq, and ID, At and Kind when they were empty). It returns only once
// the message is durable. An append with an ID already stored in the room in the
// last two minutes returns the stored message instead of storing it twice, so a
// caller may retry a failed append with the same ID.
func (s *Store) AppendChat(ctx context.Context, m ChatMessage) (ChatMessage, error) {
	subj, err := roomChat(m.Room)
	if err != nil {
		return ChatMessage{}, fmt.Errorf("store: append chat: %w", err)
	}
	if m.ID == "" {
		m.ID = rand.Text()
	}
	if m.At.IsZero() {
		m.At = time.Now().UTC()
	}
	if m.Kind == "" {
		m.Kind = KindUser
	}
	ack, err := s.casPublish(ctx, subj.all, func(t rec) (*nats.Msg, error) {
		m.Seq = t.seq + 1
		data, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		msg := nats.NewMsg(subj.msgs)
		msg.Data = data
		msg.Header.Set(hdrRoomSeq, strconv.FormatUint(m.Seq, 10))
		// Dedupe per room: IDs may come from clients.
		msg.Header.Set(jetstream.MsgIDHeader, subj.msgs+" "+m.ID)
		return msg, nil
	})
	if err != nil {
		return ChatMessage{}, fmt.Errorf("store: append chat to room %q: %w", m.Room, err)
	}
	if ack.Duplicate {
		stored, err := s.chatAt(ctx, ack.Sequence)
		if err != nil {
			return ChatMessage{}, fmt.Errorf("store: append chat to room %q: read duplicate: %w", m.Room, err)
		}
		return stored, nil
	}
	return m, nil
}

// casPublish publishes the message build makes from the room's current tail,
// on the condition that the tail has not moved, retrying on conflict.
func (s *Store) casPublish(ctx context.Context, all string, build func(tail rec) (*nats.Msg, error)) (*jetstream.PubAck, error) {
	for attempt := 1; ; attempt++ {
		// Both steps ride out a failover (retrying): a publish stored but not
		// acknowledged fails its retry's condition, and the next round finds
		// it as the tail and is told it is a duplicate.
		t, err := retrying(ctx, func(ctx context.Context) (rec, error) { return s.tail(ctx, all) })
		if err != nil {
			return nil, err
		}
		msg, err := build(t)
		if err != nil {
			return nil, err
		}
		ack, err := retrying(ctx, func(ctx context.Context) (*jetstream.PubAck, error) {
			return s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequenceForSubject(t.pos, all))
		})
		if err == nil {
			return ack, nil
		}
		if !isConflict(err) {
			return nil, fmt.Errorf("publish: %w", err)
		}
		if attempt == maxCASAttempts {
			return nil, fmt.Errorf("gave up after %d conflicting writers: %w", attempt, err)
		}
		// Back off with jitter once a few rounds were lost, so that many
		// writers on one room do not keep colliding in lock step.
		if attempt > 2 {
			d := time.Duration(mrand.Int64N(int64(min(attempt, 50)) * int64(100*time.Microsecond)))
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
	}
}

// isConflict reports whether a publish failed its expected-last-sequence check.
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// chatAt decodes the chat message at stream sequence pos.
func (s *Store) chatAt(ctx context.Context, pos uint64) (ChatMessage, error) {
	m, err := s.directGet(ctx, chatStream, getRequest{Seq: pos})
	if err != nil {
		return ChatMessage{}, err
	}
	return decodeChat(m)
}

func decodeChat(m rawMsg) (ChatMessage, error) {
	var c ChatMessage
	if err := json.Unmarshal(m.Data, &c); err != nil {
		return ChatMessage{}, fmt.Errorf("decode chat record %d: %w", m.Seq, err)
	}
	return c, nil
}

// LastChatSeq returns the highest sequence the room has given out, 0 when none.
// Deleted and cleared messages still count: the next append gets this plus one.
func (s *Store) LastChatSeq(ctx context.Context, room string) (uint64, error) {
	subj, err := roomChat(room)
	if err != nil {
		return 0, fmt.Errorf("store: last chat seq: %w", err)
	}
	t, err := s.tail(ctx, subj.all)
	if err != nil {
		return 0, fmt.Errorf("store: last chat seq of room %q: %w", room, err)
	}
	return t.seq, nil
}

// DeleteChat removes message seq from the room's history (a moderator's
// delete). It returns ErrNotFound if there is no such message, or no longer.
func (s *Store) DeleteChat(ctx context.Context, room string, seq uint64) error {
	subj, err := roomChat(room)
	if err != nil {
		return fmt.Errorf("store: delete chat: %w", err)
	}
	fail := func(err error) error { return fmt.Errorf("store: delete chat %d of room %q: %w", seq, room, err) }
	for attempt := 1; ; attempt++ {
		target, ok, err := s.findChat(ctx, subj.msgs, seq)
		if err != nil {
			return fail(err)
		}
		if !ok {
			return fail(ErrNotFound)
		}
		t, err := s.tail(ctx, subj.all)
		if err != nil {
			return fail(err)
		}
		if t.pos == target.pos {
			// The message carries the room's highest sequence: hand that to a
			// marker before the message goes.
			pos, err := s.putMarker(ctx, subj, t)
			if isConflict(err) && attempt < maxCASAttempts {
				continue
			}
			if err != nil {
				return fail(err)
			}
			if err := s.dropMarkersBefore(ctx, subj, pos); err != nil {
				return fail(err)
			}
		}
		if err := s.chat.DeleteMsg(ctx, target.pos); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fail(err)
		}
		return nil
	}
}

// ClearChat empties the room's history; later appends continue its sequence.
func (s *Store) ClearChat(ctx context.Context, room string) error {
	subj, err := roomChat(room)
	if err != nil {
		return fmt.Errorf("store: clear chat: %w", err)
	}
	fail := func(err error) error { return fmt.Errorf("store: clear chat of room %q: %w", room, err) }
	var pos uint64
	for attempt := 1; ; attempt++ {
		t, err := s.tail(ctx, subj.all)
		if err != nil {
			return fail(err)
		}
		if t.pos == 0 {
			return nil // nothing was ever written
		}
		pos, err = s.putMarker(ctx, subj, t)
		if isConflict(err) && attempt < maxCASAttempts {
			continue
		}
		if err != nil {
			return fail(err)
		}
		break
	}
	// Everything before the marker goes; appends after it stay.
	err = s.chat.Purge(ctx, jetstream.WithPurgeSubject(subj.msgs), jetstream.WithPurgeSequence(pos))
	if err != nil {
		return fail(fmt.Errorf("purge messages: %w", err))
	}
	if err := s.dropMarkersBefore(ctx, subj, pos); err != nil {
		return fail(err)
	}
	return nil
}

// putMarker publishes a marker carrying t's sequence, on the condition that t
// is still the room's newest record, and returns the marker's stream sequence.
// A conflict is returned as is (see isConflict).
func (s *Store) putMarker(ctx context.Context, subj chatSubjects, t rec) (uint64, error) {
	msg := nats.NewMsg(subj.markers)
	msg.Header.Set(hdrRoomSeq, strconv.FormatUint(t.seq, 10))
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequenceForSubject(t.pos, subj.all))
	if err != nil {
		return 0, fmt.Errorf("publish marker: %w", err)
	}
	return ack.Sequence, nil
}

// dropMarkersBefore removes the room's markers older than pos: only the newest
// record can matter for the sequence, so at most one marker needs to stay.
func (s *Store) dropMarkersBefore(ctx context.Context, subj chatSubjects, pos uint64) error {
	err := s.chat.Purge(ctx, jetstream.WithPurgeSubject(subj.markers), jetstream.WithPurgeSequence(pos))
	if err != nil {
		return fmt.Errorf("purge old markers: %w", err)
	}
	return nil
}
