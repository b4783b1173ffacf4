package codec

import "testing"

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		mime string
		want Kind
	}{
		{"audio/opus", Opus}, {"AUDIO/OPUS", Opus}, {"video/VP8", VP8},
		{"video/vp8", VP8}, {"video/VP9", VP9}, {"video/h264", H264},
		{"video/H265", Unknown}, {"", Unknown}, {"video/VP8 ", Unknown},
		{"audio/VP8", Unknown},
	} {
		if got := KindOf(tc.mime); got != tc.want {
			t.Errorf("KindOf(%q) = %v, want %v", tc.mime, got, tc.want)
		}
	}
	if KindOf(Unknown.String()) != Unknown || Kind(200).String() != "unknown" {
		t.Error("Unknown round trip")
	}
}

type keyCase struct {
	name    string
	kind    Kind
	payload []byte
	want    bool
}

// keyCases is shared with the fuzz target as its seed corpus.
var keyCases = []keyCase{
	{"opus", Opus, []byte{0x78}, true},
	{"opus empty", Opus, nil, true},
	{"unknown", Unknown, []byte{0x10, 0x00}, false},
	{"bad kind", Kind(99), []byte{0x10, 0x00}, false},

	// VP8: descriptor byte X R N S R PID; payload header bit 0 is P.
	{"vp8 key, no ext", VP8, []byte{0x10, 0x9c}, true},
	{"vp8 inter", VP8, []byte{0x10, 0x9d}, false},
	{"vp8 not start", VP8, []byte{0x00, 0x9c}, false},
	{"vp8 pid 1", VP8, []byte{0x11, 0x9c}, false},
	{"vp8 empty", VP8, nil, false},
	{"vp8 descriptor only", VP8, []byte{0x10}, false},
	{"vp8 X, 7-bit pid", VP8, []byte{0x90, 0x80, 0x05, 0x9c}, true},
	{"vp8 X, 15-bit pid", VP8, []byte{0x90, 0x80, 0x81, 0x23, 0x9c}, true},
	{"vp8 X, 15-bit pid inter", VP8, []byte{0x90, 0x80, 0x81, 0x23, 0x9d}, false},
	{"vp8 X, I L T K", VP8, []byte{0x90, 0xf0, 0x81, 0x23, 0x07, 0x40, 0x9c}, true},
	{"vp8 X, L only", VP8, []byte{0x90, 0x40, 0x07, 0x9c}, true},
	{"vp8 X, K only inter", VP8, []byte{0x90, 0x10, 0x20, 0x01}, false},
	{"vp8 X truncated", VP8, []byte{0x90}, false},
	{"vp8 X, I truncated", VP8, []byte{0x90, 0x80}, false},
	{"vp8 X, 15-bit pid truncated", VP8, []byte{0x90, 0x80, 0x81, 0x23}, false},
	{"vp8 X, I L T K truncated", VP8, []byte{0x90, 0xf0, 0x81, 0x23, 0x07, 0x40}, false},

	// VP9: descriptor byte I P L F B E V Z.
	{"vp9 key minimal", VP9, []byte{0x08, 0x82}, true},
	{"vp9 inter", VP9, []byte{0x48, 0x82}, false},
	{"vp9 not start", VP9, []byte{0x00, 0x82}, false},
	{"vp9 empty", VP9, nil, false},
	{"vp9 descriptor only", VP9, []byte{0x08}, false},
	{"vp9 I 7-bit", VP9, []byte{0x88, 0x05, 0x82}, true},
	{"vp9 I 15-bit", VP9, []byte{0x88, 0x81, 0x23, 0x82}, true},
	{"vp9 I 15-bit truncated", VP9, []byte{0x88, 0x81, 0x23}, false},
	{"vp9 I truncated", VP9, []byte{0x88}, false},
	{"vp9 L non-flexible", VP9, []byte{0xa8, 0x81, 0x23, 0x00, 0x07, 0x82}, true},
	{"vp9 L non-flexible truncated", VP9, []byte{0xa8, 0x81, 0x23, 0x00, 0x07}, false},
	{"vp9 L flexible", VP9, []byte{0xb8, 0x81, 0x23, 0x00, 0x82}, true},
	{"vp9 L spatial layer 1", VP9, []byte{0xb8, 0x81, 0x23, 0x03, 0x82}, false},
	{"vp9 L truncated", VP9, []byte{0xa8}, false},
	{"vp9 V, Y 2 layers, G 1 pic", VP9, []byte{
		0x8a, 0x05, // I, B, V; picture id
		0x38,                   // N_S=1 (2 layers), Y, G
		0x01, 0x40, 0x00, 0xb4, // layer 0: 320x180
		0x02, 0x80, 0x01, 0x68, // layer 1: 640x360
		0x01,       // N_G=1
		0x04, 0x01, // TID=0 U=0 R=1, P_DIFF=1
		0x82,
	}, true},
	{"vp9 V truncated in G", VP9, []byte{0x8a, 0x05, 0x38, 1, 0x40, 0, 0xb4, 2, 0x80, 1, 0x68, 0x01, 0x04}, false},
	{"vp9 V truncated before N_G", VP9, []byte{0x0a, 0x08}, false},
	{"vp9 V truncated in Y", VP9, []byte{0x0a, 0x10, 0x01}, false},
	{"vp9 V no payload", VP9, []byte{0x0a, 0x00}, false},
	{"vp9 V empty SS", VP9, []byte{0x0a}, false},
	{"vp9 V minimal", VP9, []byte{0x0a, 0x00, 0x82}, true},

	// H.264: NAL header F NRI(2) type(5).
	{"h264 idr", H264, []byte{0x65, 0x88}, true},
	{"h264 sps", H264, []byte{0x67, 0x42}, true},
	{"h264 pps", H264, []byte{0x68, 0xce}, false},
	{"h264 non-idr slice", H264, []byte{0x41, 0x9a}, false},
	{"h264 type 0", H264, []byte{0x00}, false},
	{"h264 empty", H264, nil, false},
	{"h264 header only idr", H264, []byte{0x65}, true},
	{"h264 stap-a sps pps", H264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
	{"h264 stap-a sei idr", H264, []byte{0x78, 0x00, 0x01, 0x06, 0x00, 0x02, 0x65, 0x88}, true},
	{"h264 stap-a no key", H264, []byte{0x78, 0x00, 0x01, 0x06, 0x00, 0x02, 0x41, 0x9a}, false},
	{"h264 stap-a truncated size", H264, []byte{0x78, 0x00}, false},
	{"h264 stap-a nal overruns", H264, []byte{0x78, 0x00, 0x05, 0x67, 0x42}, false},
	{"h264 stap-a zero size", H264, []byte{0x78, 0x00, 0x00, 0x67}, false},
	{"h264 stap-a header only", H264, []byte{0x78}, false},
	{"h264 fu-a idr start", H264, []byte{0x7c, 0x85, 0x88}, true},
	{"h264 fu-a idr middle", H264, []byte{0x7c, 0x05, 0x88}, false},
	{"h264 fu-a idr end", H264, []byte{0x7c, 0x45, 0x88}, false},
	{"h264 fu-a non-idr start", H264, []byte{0x7c, 0x81, 0x9a}, false},
	{"h264 fu-a truncated", H264, []byte{0x7c}, false},
	{"h264 fu-b", H264, []byte{0x7d, 0x85, 0x00, 0x00}, false},
	{"h264 stap-b", H264, []byte{0x79, 0x00, 0x00, 0x00, 0x02, 0x65, 0x88}, false},
}

func TestIsKeyframeStart(t *testing.T) {
	for _, tc := range keyCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsKeyframeStart(tc.kind, tc.payload); got != tc.want {
				t.Errorf("IsKeyframeStart(%v, % x) = %v, want %v", tc.kind, tc.payload, got, tc.want)
			}
			// Every strict prefix of a packet whose answer depends on later
			// bytes must not panic; check them all.
			for n := range len(tc.payload) {
				IsKeyframeStart(tc.kind, tc.payload[:n])
			}
		})
	}
}

func TestZeroAllocs(t *testing.T) {
	if a := testing.AllocsPerRun(100, func() {
		for _, tc := range keyCases {
			IsKeyframeStart(tc.kind, tc.payload)
		}
		KindOf("VIDEO/H264")
		KindOf("application/x-nothing")
	}); a != 0 {
		t.Errorf("allocs = %v", a)
	}
}

func FuzzIsKeyframeStart(f *testing.F) {
	for _, tc := range keyCases {
		f.Add(uint8(tc.kind), tc.payload)
	}
	f.Fuzz(func(t *testing.T, kind uint8, payload []byte) {
		k := Kind(kind % 6) // all real kinds plus one invalid value
		a := IsKeyframeStart(k, payload)
		if b := IsKeyframeStart(k, payload); a != b {
			t.Fatalf("nondeterministic: %v then %v", a, b)
		}
	})
}

func BenchmarkIsKeyframeStart(b *testing.B) {
	cases := []struct {
		name    string
		kind    Kind
		payload []byte
	}{
		{"VP8", VP8, []byte{0x90, 0xf0, 0x81, 0x23, 0x07, 0x40, 0x9c, 0x01, 0x2a}},
		{"VP9", VP9, []byte{0xa8, 0x81, 0x23, 0x00, 0x07, 0x82, 0x49, 0x83}},
		{"H264-STAP-A", H264, []byte{0x78, 0x00, 0x01, 0x06, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x65, 0x88}},
		{"H264-FU-A", H264, []byte{0x7c, 0x85, 0x88, 0x84}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				IsKeyframeStart(c.kind, c.payload)
			}
		})
	}
}
