package whip

import (
	"errors"
	"fmt"
	"strings"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// ContentTypeFragment is the media type of trickle ICE and ICE restart PATCH
// bodies (RFC 8840).
const ContentTypeFragment = "application/trickle-ice-sdpfrag"

// maxFragmentCandidates bounds the candidates one PATCH may carry.
const maxFragmentCandidates = 64

// errFragment is wrapped by every reason a fragment is refused.
var errFragment = errors.New("whip: bad sdpfrag")

// fragment is a trickle-ice-sdpfrag body: ICE credentials (present for an ICE
// restart, optional for trickle) and candidates.
type fragment struct {
	ufrag, pwd string
	candidates []wire.Candidate
	end        bool // a=end-of-candidates
}

// parseFragment reads an RFC 8840 SDP fragment. It accepts the lines a
// fragment holds (session and media level ICE credentials, m= sections with
// their a=mid, candidates, end-of-candidates) and ignores other attributes.
func parseFragment(body string) (fragment, error) {
	var f fragment
	sectionStart := -1 // index in f.candidates where the current m= section's begin
	var mid *string    // the current m= section's a=mid
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return f, fmt.Errorf("%w: %q is not an SDP line", errFragment, shorten(line))
		}
		switch {
		case line[0] == 'm':
			sectionStart, mid = len(f.candidates), nil
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			if err := setOnce(&f.ufrag, strings.TrimPrefix(line, "a=ice-ufrag:"), "ice-ufrag"); err != nil {
				return f, err
			}
		case strings.HasPrefix(line, "a=ice-pwd:"):
			if err := setOnce(&f.pwd, strings.TrimPrefix(line, "a=ice-pwd:"), "ice-pwd"); err != nil {
				return f, err
			}
		case strings.HasPrefix(line, "a=mid:") && sectionStart >= 0:
			v := strings.TrimPrefix(line, "a=mid:")
			mid = &v
			for i := sectionStart; i < len(f.candidates); i++ {
				f.candidates[i].SDPMid = mid
			}
		case strings.HasPrefix(line, "a=candidate:"):
			if len(f.candidates) >= maxFragmentCandidates {
				return f, fmt.Errorf("%w: more than %d candidates", errFragment, maxFragmentCandidates)
			}
			value := strings.TrimPrefix(line, "a=")
			if len(strings.Fields(value)) < 8 {
				return f, fmt.Errorf("%w: candidate %q is incomplete", errFragment, shorten(value))
			}
			c := wire.Candidate{Candidate: value, SDPMid: mid}
			if sectionStart < 0 {
				zero := uint16(0)
				c.SDPMLineIndex = &zero
			}
			f.candidates = append(f.candidates, c)
		case line == "a=end-of-candidates":
			f.end = true
		}
	}
	for i := range f.candidates {
		if f.ufrag != "" {
			u := f.ufrag
			f.candidates[i].UsernameFragment = &u
		}
		if f.candidates[i].SDPMid == nil && f.candidates[i].SDPMLineIndex == nil {
			zero := uint16(0)
			f.candidates[i].SDPMLineIndex = &zero
		}
	}
	return f, nil
}

func setOnce(dst *string, v, name string) error {
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v, " \t") {
		return fmt.Errorf("%w: bad %s", errFragment, name)
	}
	if *dst != "" && *dst != v {
		return fmt.Errorf("%w: two different %s values", errFragment, name)
	}
	*dst = v
	return nil
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// iceCredentials returns the first ICE username fragment and password of a
// session description.
func iceCredentials(sdp string) (ufrag, pwd string) {
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(line, "\r")
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok && ufrag == "" {
			ufrag = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "a=ice-pwd:"); ok && pwd == "" {
			pwd = strings.TrimSpace(v)
		}
	}
	return ufrag, pwd
}

// withICECredentials returns the client's offer sdp as it would be after an
// ICE restart (RFC 9725 §4.3.2: nothing but ICE changes): new credentials,
// and none of the old session's candidates.
func withICECredentials(sdp, ufrag, pwd string) string {
	var b strings.Builder
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			line = "a=ice-ufrag:" + ufrag
		case strings.HasPrefix(line, "a=ice-pwd:"):
			line = "a=ice-pwd:" + pwd
		case strings.HasPrefix(line, "a=candidate:"), line == "a=end-of-candidates":
			continue
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	return b.String()
}

// answerFragment is the body of an ICE restart's 200 OK: the server's new ICE
// credentials and its candidates, from our new answer's first media section
// (everything is bundled on it).
func answerFragment(answer string) string {
	ufrag, pwd := iceCredentials(answer)
	var b strings.Builder
	b.WriteString("a=ice-ufrag:" + ufrag + "\r\n")
	b.WriteString("a=ice-pwd:" + pwd + "\r\n")
	sections := 0
	for _, line := range strings.Split(answer, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "m=") {
			sections++
			if sections == 1 {
				b.WriteString(line + "\r\n")
			}
			continue
		}
		if sections != 1 {
			continue
		}
		if strings.HasPrefix(line, "a=mid:") || strings.HasPrefix(line, "a=candidate:") {
			b.WriteString(line + "\r\n")
		}
	}
	b.WriteString("a=end-of-candidates\r\n")
	return b.String()
}
