package call

import (
	"time"

	"github.com/talkrelay/talkrelay/match"
	"github.com/talkrelay/talkrelay/room"
	"github.com/talkrelay/talkrelay/signal/wire"
)

// call is one invitation and, once answered, the conversation. The Service's
// mutex guards it.
type call struct {
	id                   string
	caller, callerName   string
	callee, calleeName   string
	mode                 string
	state                string // wire.CallRinging, CallActive or CallEnded
	started, answered    time.Time
	callerDev, calleeDev *Device // the caller's device; the callee's answering device
	ring                 *time.Timer
	room                 *room.Room
	away                 map[string]*time.Timer // identity → reconnect deadline of a dropped side
	match                bool                   // a random match: on "next", both wait again
	profiles             [2]match.Profile       // of a match: the caller's and the callee's
}

// other returns the device of the side that d is not on, if connected.
func (c *call) other(d *Device) *Device {
	if d.grant.Identity == c.caller {
		return c.calleeDev
	}
	return c.callerDev
}

// party reports whether d is one of the call's two devices.
func (c *call) party(d *Device) bool { return d == c.callerDev || d == c.calleeDev }

func (c *call) wire() *wire.Call {
	w := &wire.Call{
		ID: c.id, Caller: c.caller, CallerName: c.callerName, Callee: c.callee, CalleeName: c.calleeName,
		Mode: c.mode, State: c.state, StartedAt: c.started.UnixMilli(), Match: c.match,
	}
	if !c.answered.IsZero() {
		w.AnsweredAt = c.answered.UnixMilli()
		w.Outcome = OutcomeAccepted
	}
	return w
}

func (c *call) record(outcome, reason string, end time.Time) Record {
	rec := Record{
		ID: c.id, Caller: c.caller, CallerName: c.callerName, Callee: c.callee, CalleeName: c.calleeName,
		Mode: c.mode, StartedAt: c.started, AnsweredAt: c.answered, EndedAt: end,
		Outcome: outcome, Reason: reason, Match: c.match,
	}
	if !c.answered.IsZero() {
		rec.DurationMS = end.Sub(c.answered).Milliseconds()
	}
	return rec
}

// recordWire is an ended call as clients see it.
func recordWire(r Record) *wire.Call {
	w := &wire.Call{
		ID: r.ID, Caller: r.Caller, CallerName: r.CallerName, Callee: r.Callee, CalleeName: r.CalleeName,
		Mode: r.Mode, State: wire.CallEnded, Outcome: r.Outcome, Reason: r.Reason,
		StartedAt: r.StartedAt.UnixMilli(), EndedAt: r.EndedAt.UnixMilli(), DurationMS: r.DurationMS,
		Match: r.Match,
	}
	if !r.AnsweredAt.IsZero() {
		w.AnsweredAt = r.AnsweredAt.UnixMilli()
	}
	return w
}
