package loadgen

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"
)

// chatState is where one sent chat message stands.
type chatState uint8

const (
	chatPending  chatState = iota // handed to the data channel, no reply yet
	chatAcked                     // the server stored it
	chatRejected                  // the server refused it (code says why)
	chatFailed                    // SendChat failed: the server never saw it
)

// sentChat is one chat message a chatter sent.
type sentChat struct {
	at    time.Time // just before it was handed to the data channel
	ackAt time.Time // when the ack or error arrived
	state chatState
	code  string // error code when rejected
}

// chatLedger records every chat message of the run, numbered in sending
// order. The number travels in the request id ("lg-<n>") and in the text
// ("lg <nonce> <n> ..."), so acks and deliveries find the send time here,
// on the same process clock. The nonce keeps earlier runs' messages (the
// join backfill of a persistent room) from being counted.
type chatLedger struct {
	nonce string

	mu    sync.RWMutex
	msgs  []sentChat
	acked bitset
}

func newChatLedger() *chatLedger {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return &chatLedger{nonce: hex.EncodeToString(b[:])}
}

// add records a message about to be sent at and returns its number, request
// id and text. Texts are unique, so the server's duplicate check never
// refuses them.
func (l *chatLedger) add(from string, at time.Time) (n int, id, text string) {
	l.mu.Lock()
	n = len(l.msgs)
	l.msgs = append(l.msgs, sentChat{at: at})
	l.mu.Unlock()
	return n, chatRequestID(n), fmt.Sprintf("lg %s %d from %s", l.nonce, n, from)
}

// failed marks message n as never sent.
func (l *chatLedger) failed(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n >= 0 && n < len(l.msgs) && l.msgs[n].state == chatPending {
		l.msgs[n].state = chatFailed
	}
}

// answer records the server's reply to message n: an ack when code is
// empty, else a refusal. Only the first reply counts.
func (l *chatLedger) answer(n int, at time.Time, code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n >= len(l.msgs) || l.msgs[n].state != chatPending {
		return
	}
	m := &l.msgs[n]
	m.ackAt = at
	if code == "" {
		m.state = chatAcked
		l.acked.set(n)
		return
	}
	m.state, m.code = chatRejected, code
}

// sentAt is when message n was sent; false for a number the run never used.
func (l *chatLedger) sentAt(n int) (time.Time, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if n < 0 || n >= len(l.msgs) {
		return time.Time{}, false
	}
	return l.msgs[n].at, true
}

// ledgerSnapshot is a copy of the ledger for the summary.
type ledgerSnapshot struct {
	msgs  []sentChat
	acked bitset
}

func (l *chatLedger) snapshot() ledgerSnapshot {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return ledgerSnapshot{msgs: append([]sentChat(nil), l.msgs...), acked: l.acked.clone()}
}

// counts returns how many messages were sent (failed ones excluded), acked
// and still waiting for a reply.
func (l *chatLedger) counts() (sent, acked, pending int) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, m := range l.msgs {
		switch m.state {
		case chatPending:
			pending++
		case chatAcked:
			acked++
		}
		if m.state != chatFailed {
			sent++
		}
	}
	return sent, acked, pending
}

func chatRequestID(n int) string { return "lg-" + strconv.Itoa(n) }

// parseRequestID is the message number in a reply's id.
func parseRequestID(id string) (int, bool) {
	s, ok := strings.CutPrefix(id, "lg-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// parseChatText is the message number in a delivered text, if this run
// sent it.
func (l *chatLedger) parseChatText(text string) (int, bool) {
	rest, ok := strings.CutPrefix(text, "lg "+l.nonce+" ")
	if !ok {
		return 0, false
	}
	num, _, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(num)
	return n, err == nil && n >= 0
}

// bitset is a growable set of small non-negative integers.
type bitset []uint64

// set adds i and reports whether it was already there.
func (b *bitset) set(i int) bool {
	w := i / 64
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	mask := uint64(1) << (i % 64)
	had := (*b)[w]&mask != 0
	(*b)[w] |= mask
	return had
}

func (b bitset) has(i int) bool {
	w := i / 64
	return w < len(b) && b[w]&(uint64(1)<<(i%64)) != 0
}

// count is the number of members.
func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// andCount is the number of members b shares with o.
func (b bitset) andCount(o bitset) int {
	n := 0
	for i := range min(len(b), len(o)) {
		n += bits.OnesCount64(b[i] & o[i])
	}
	return n
}

func (b bitset) clone() bitset { return append(bitset(nil), b...) }
