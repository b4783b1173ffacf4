package room

import (
	"errors"
	"testing"

	"github.com/talkrelay/talkrelay/signal/wire"
)

const offerVP8Opus = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n"

func TestCheckOffer(t *testing.T) {
	cases := []struct {
		name string
		sdp  string
		code string // "" means accepted
	}{
		{"opus and vp8", offerVP8Opus, ""},
		{"h264 only", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n", ""},
		{"garbage", "hello", wire.CodeBadSDP},
		{"empty", "", wire.CodeBadSDP},
		{"no media", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", wire.CodeNoUsableCodec},
		{"pcmu only", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n", wire.CodeNoUsableCodec},
		{"vp8 in an audio section", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n", wire.CodeNoUsableCodec},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkOffer(c.sdp)
			if c.code == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var we *wire.Error
			if !errors.As(err, &we) || we.Code != c.code {
				t.Fatalf("err = %v, want code %s", err, c.code)
			}
		})
	}
}

// FuzzCheckOffer feeds arbitrary text where clients send SDP: it must answer
// with a coded error or accept, never panic.
func FuzzCheckOffer(f *testing.F) {
	f.Add(offerVP8Opus)
	f.Add("v=0\r\n")
	f.Add("m=video 9 RTP 96\r\na=rtpmap:96\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		err := checkOffer(s)
		var we *wire.Error
		if err != nil && !errors.As(err, &we) {
			t.Fatalf("uncoded error %v", err)
		}
	})
}
