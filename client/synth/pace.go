package synth

import (
	"context"
	"errors"
	"time"

	"github.com/pion/rtp"
)

// Pace drives v and a in real time until ctx ends, the way a camera and
// microphone would: immediately and then every v.FrameInterval() it passes
// each packet of v's next frame to writeVideo, and immediately and then every
// 20 ms it passes a's next packet to writeAudio. Either source may be nil
// (its write function is then ignored); a non-nil source needs a non-nil
// write function.
//
// The first write error stops Pace and is returned unwrapped (for example
// io.ErrClosedPipe); cancellation of ctx returns nil. Everything runs on the
// caller's goroutine with one ticker per source. If writes fall behind,
// ticks are dropped (as with time.Ticker) rather than bursting to catch up,
// so RTP timestamps then run slower than the wall clock.
func Pace(ctx context.Context, v *Video, writeVideo func(*rtp.Packet) error, a *Audio, writeAudio func(*rtp.Packet) error) error {
	if v != nil && writeVideo == nil {
		return errors.New("synth: Pace given video without writeVideo")
	}
	if a != nil && writeAudio == nil {
		return errors.New("synth: Pace given audio without writeAudio")
	}
	if ctx.Err() != nil {
		return nil
	}

	sendVideo := func() error {
		for _, p := range v.NextFrame() {
			if err := writeVideo(p); err != nil {
				return err
			}
		}
		return nil
	}
	sendAudio := func() error { return writeAudio(a.NextPacket()) }

	// A nil channel never fires, which disables an absent source.
	var videoC, audioC <-chan time.Time
	if v != nil {
		t := time.NewTicker(v.FrameInterval())
		defer t.Stop()
		videoC = t.C
		if err := sendVideo(); err != nil {
			return err
		}
	}
	if a != nil {
		t := time.NewTicker(a.PacketInterval())
		defer t.Stop()
		audioC = t.C
		if err := sendAudio(); err != nil {
			return err
		}
	}

	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-videoC:
			if ctx.Err() != nil {
				return nil
			}
			err = sendVideo()
		case <-audioC:
			if ctx.Err() != nil {
				return nil
			}
			err = sendAudio()
		}
		if err != nil {
			return err
		}
	}
}
