package synth

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestPaceDelivers(t *testing.T) {
	const d = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	v := NewVideo(VideoConfig{FPS: 30})
	a := NewAudio(AudioConfig{})
	var frames, videoPkts, audioPkts int
	lastSeq := -1
	start := time.Now()
	err := Pace(ctx, v, func(p *rtp.Packet) error {
		videoPkts++
		if p.Marker {
			frames++
		}
		if lastSeq >= 0 && p.SequenceNumber != uint16(lastSeq+1) {
			t.Errorf("video seq %d after %d", p.SequenceNumber, lastSeq)
		}
		lastSeq = int(p.SequenceNumber)
		return nil
	}, a, func(p *rtp.Packet) error {
		audioPkts++
		return nil
	})
	if err != nil {
		t.Fatalf("Pace: %v", err)
	}
	elapsed := time.Since(start)
	if elapsed < d/2 {
		t.Fatalf("Pace returned after %v, before its context ended", elapsed)
	}
	// Loose lower bounds only: slow CI machines may drop ticks.
	if want := int(d / v.FrameInterval()); frames < want/2 {
		t.Errorf("%d frames in %v, want at least %d", frames, d, want/2)
	}
	if want := int(d / (20 * time.Millisecond)); audioPkts < want/2 {
		t.Errorf("%d audio packets in %v, want at least %d", audioPkts, d, want/2)
	}
}

func TestPaceErrors(t *testing.T) {
	errVideo := errors.New("video sink gone")
	ok := func(*rtp.Packet) error { return nil }
	closed := func(*rtp.Packet) error { return io.ErrClosedPipe }
	failAfter := func(n int, err error) func(*rtp.Packet) error {
		return func(*rtp.Packet) error {
			if n--; n < 0 {
				return err
			}
			return nil
		}
	}
	tests := []struct {
		name       string
		video      bool
		writeVideo func(*rtp.Packet) error
		audio      bool
		writeAudio func(*rtp.Packet) error
		want       error
	}{
		{"video write fails at once", true, closed, true, ok, io.ErrClosedPipe},
		{"video write fails later", true, failAfter(100, errVideo), false, nil, errVideo},
		{"audio write fails later", false, nil, true, failAfter(5, io.ErrClosedPipe), io.ErrClosedPipe},
		{"audio only fails", false, ok, true, closed, io.ErrClosedPipe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v *Video
			var a *Audio
			if tc.video {
				v = NewVideo(VideoConfig{})
			}
			if tc.audio {
				a = NewAudio(AudioConfig{})
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := Pace(ctx, v, tc.writeVideo, a, tc.writeAudio); err != tc.want {
				t.Fatalf("Pace = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPaceCancel(t *testing.T) {
	never := func(*rtp.Packet) error { t.Error("write after cancel"); return nil }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Pace(ctx, NewVideo(VideoConfig{}), never, NewAudio(AudioConfig{}), never); err != nil {
		t.Fatalf("cancelled Pace = %v", err)
	}

	// No sources: Pace just waits for ctx.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := Pace(ctx, nil, nil, nil, nil); err != nil {
		t.Fatalf("empty Pace = %v", err)
	}

	// A source without a write function is a caller bug.
	if err := Pace(context.Background(), NewVideo(VideoConfig{}), nil, nil, nil); err == nil {
		t.Fatal("Pace accepted video without writeVideo")
	}
}
