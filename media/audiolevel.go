package media

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/talkrelay/talkrelay/media/codec"
)

// LoudnessScale is the resolution of a loudness: LevelMeter.Loudness returns
// decibels above silence (-127 dBov) times LoudnessScale, so 0 is silence
// and 127*LoudnessScale full scale (0 dBov).
const LoudnessScale = 256

// levelPeriod is how often a speaking publisher sends a packet (20 ms of
// Opus): the meter counts missing packets as silence in steps of it.
const levelPeriod = int64(20 * time.Millisecond)

// levelGrace is how many packet periods may pass without a packet before
// the meter counts them as silence: network jitter delays packets and then
// delivers them in a burst, which must not read as a speaker pausing.
const levelGrace = 4

// LevelMeter smooths the RFC 6464 audio levels of one stream into a
// loudness: an exponential moving average with a weight of 1/8 per 20 ms
// packet (a time constant of about 150 ms: most of the last 300 ms), which
// decays towards silence while no packet arrives (after levelGrace periods
// of jitter allowance). One goroutine observes
// (the feed's reader); any may read. The zero value is silent.
type LevelMeter struct {
	ema  atomic.Int32 // loudness × LoudnessScale
	last atomic.Int64 // Unix ns of the last observed level
}

// Observe adds one packet's level (-dBov, 0 loudest, 127 silence) seen at
// now (Unix ns). Only one goroutine may observe a meter.
func (m *LevelMeter) Observe(level uint8, now int64) {
	x := int32(codec.SilentLevel-min(level, codec.SilentLevel)) * LoudnessScale
	e := decayed(m.ema.Load(), m.last.Load(), now)
	e += (x - e) >> 3
	m.ema.Store(e)
	m.last.Store(now)
}

// Loudness is the smoothed loudness at now (Unix ns), in 1/LoudnessScale dB
// above silence.
func (m *LevelMeter) Loudness(now int64) int {
	return int(decayed(m.ema.Load(), m.last.Load(), now))
}

// decayed is e as it stands at now when the packets due since last (one
// per levelPeriod), beyond the jitter allowance, were silent.
func decayed(e int32, last, now int64) int32 {
	if e == 0 || last == 0 {
		return e
	}
	missed := (now-last)/levelPeriod - levelGrace
	if missed <= 0 {
		return e
	}
	if missed > 200 { // (7/8)^200 of full scale is below one unit
		return 0
	}
	return int32(float64(e) * math.Pow(7.0/8, float64(missed)))
}

// Loudness is the feed's smoothed audio loudness at now, in 1/LoudnessScale
// dB above silence, from the audio levels its publisher sends (see
// Upstream.AudioLevelID); 0 when it sends none, or nothing lately.
func (f *Feed) Loudness(now time.Time) int { return f.meter.Loudness(now.UnixNano()) }

// Gate says which of a feed's down tracks receive its packets. Selecting a
// room's active speakers sets it; it costs nothing per packet when open.
type Gate uint32

const (
	// GateOpen forwards to every down track (the default).
	GateOpen Gate = iota
	// GateClosed forwards to none: the reader still stores packets (and
	// meters audio levels) but hands the workers nothing, as when muted.
	GateClosed
	// GateFlagged forwards only to the down tracks whose gate flag (see
	// DownTrack.SetGateFlag) is set.
	GateFlagged
)

// String names the gate, for logs.
func (g Gate) String() string {
	switch g {
	case GateOpen:
		return "open"
	case GateClosed:
		return "closed"
	case GateFlagged:
		return "flagged"
	}
	return fmt.Sprintf("gate(%d)", uint32(g))
}

// SetGate sets which down tracks receive the feed. Down tracks that start
// receiving again continue their sequence numbers without a gap, as after
// an unmute. Safe from any goroutine.
func (f *Feed) SetGate(g Gate) {
	if old := Gate(f.gate.Swap(uint32(g))); old == GateClosed && g != GateClosed {
		f.resync.Add(1)
		f.RequestKeyframe()
	}
}

// Gate returns the feed's gate.
func (f *Feed) Gate() Gate { return Gate(f.gate.Load()) }

// SetGateFlag makes flag the down track's gate flag: while its feed's gate
// is GateFlagged, it receives packets only while flag is set. Several down
// tracks may share one flag (a viewer's), so that one store opens or closes
// them all. Call it before the down track is added to its feed.
func (d *DownTrack) SetGateFlag(flag *atomic.Bool) { d.gateFlag = flag }

// gatedOut reports whether a packet handed out under ref's gate must skip d.
func (d *DownTrack) gatedOut(ref packetRef) bool {
	return ref.flagged && (d.gateFlag == nil || !d.gateFlag.Load())
}

// RegisterAudioLevelExtension registers the RFC 6464 audio level header
// extension for audio, so that publishers tell the SFU how loud each packet
// is (active speaker selection).
func RegisterAudioLevelExtension(m *webrtc.MediaEngine) error {
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: codec.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("media: register %s: %w", codec.AudioLevelURI, err)
	}
	return nil
}

// AudioLevelID returns the id a receiver's connection negotiated for the
// audio level header extension, or 0 when it did not: pass it as
// Upstream.AudioLevelID.
func AudioLevelID(recv *webrtc.RTPReceiver) uint8 {
	for _, x := range recv.GetParameters().HeaderExtensions {
		if x.URI == codec.AudioLevelURI && x.ID > 0 && x.ID < 256 {
			return uint8(x.ID)
		}
	}
	return 0
}
