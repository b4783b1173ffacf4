package whip

import (
	"errors"
	"strings"
	"testing"
)

func TestParseFragment(t *testing.T) {
	f, err := parseFragment("a=ice-options:trickle ice2\r\na=group:BUNDLE 0 1\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n" +
		"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n" +
		"a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n" +
		"a=end-of-candidates\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if f.ufrag != "EsAw" || f.pwd != "P2uYro0UCOQ4zxjKXaWCBui1" || !f.end || len(f.candidates) != 2 {
		t.Fatalf("%+v", f)
	}
	for _, c := range f.candidates {
		if c.SDPMid == nil || *c.SDPMid != "0" || !strings.HasPrefix(c.Candidate, "candidate:") || c.UsernameFragment == nil {
			t.Fatalf("candidate %+v", c)
		}
	}
	// a=mid may follow the candidates of its section; bare candidates get index 0.
	f, err = parseFragment("a=candidate:1 1 udp 1 192.0.2.1 1 typ host\nm=video 9 UDP/TLS/RTP/SAVPF 96\na=candidate:2 1 udp 1 192.0.2.1 2 typ host\na=mid:v\n")
	if err != nil {
		t.Fatal(err)
	}
	if f.candidates[0].SDPMLineIndex == nil || *f.candidates[0].SDPMLineIndex != 0 || *f.candidates[1].SDPMid != "v" {
		t.Fatalf("%+v", f.candidates)
	}
	for _, bad := range []string{
		"hello",
		"a=candidate:1 1 udp\r\n",
		"a=ice-ufrag:a\r\na=ice-ufrag:b\r\n",
		"a=ice-pwd:\r\n",
		strings.Repeat("a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n", maxFragmentCandidates+1),
	} {
		if _, err := parseFragment(bad); !errors.Is(err, errFragment) {
			t.Errorf("%q: err %v, want errFragment", shorten(bad), err)
		}
	}
}

func TestICECredentialRewrite(t *testing.T) {
	offer := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:old\r\na=ice-pwd:oldpwd\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:old\r\na=ice-pwd:oldpwd\r\n" +
		"a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\na=end-of-candidates\r\n"
	got := withICECredentials(offer, "new", "newpwd")
	if strings.Contains(got, "old") || strings.Contains(got, "candidate") || strings.Count(got, "a=ice-ufrag:new\r\n") != 2 {
		t.Fatalf("%q", got)
	}
	if u, p := iceCredentials(got); u != "new" || p != "newpwd" {
		t.Fatalf("credentials %q %q", u, p)
	}
	frag := answerFragment(offer + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=candidate:9 1 udp 1 192.0.2.9 9 typ host\r\n")
	want := "a=ice-ufrag:old\r\na=ice-pwd:oldpwd\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\na=end-of-candidates\r\n"
	if frag != want {
		t.Fatalf("fragment\n%q\nwant\n%q", frag, want)
	}
}

func TestMatchesETag(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{`"abc"`, true}, {`*`, true}, {`"x", "abc"`, true}, {`W/"abc"`, false}, {`"abd"`, false}, {`abc`, false},
	} {
		if got := matchesETag(c.header, `"abc"`); got != c.want {
			t.Errorf("If-Match %s: %v, want %v", c.header, got, c.want)
		}
	}
}

// FuzzParseFragment: whatever a client PATCHes, parsing neither panics nor
// accepts more than the limit.
func FuzzParseFragment(f *testing.F) {
	f.Add("a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host\r\na=end-of-candidates\r\n")
	f.Add("a=candidate:1 1 udp 1 192.0.2.1 1 typ host\na=mid:0\n")
	f.Add("m=\n=\na=")
	f.Fuzz(func(t *testing.T, body string) {
		frag, err := parseFragment(body)
		if err != nil {
			return
		}
		if len(frag.candidates) > maxFragmentCandidates {
			t.Fatalf("%d candidates accepted", len(frag.candidates))
		}
		for _, c := range frag.candidates {
			if c.SDPMid == nil && c.SDPMLineIndex == nil {
				t.Fatal("candidate with neither mid nor index")
			}
		}
	})
}
