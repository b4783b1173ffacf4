package match_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/match"
)

func TestRefusesBadInput(t *testing.T) {
	q := newQueue(t, newClock(), nil)
	long := strings.Repeat("x", match.MaxValueLen+1)
	many := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprint("v", i)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		user string
		p    match.Profile
		want error
	}{
		{"empty user", "", match.Profile{}, match.ErrInvalidUser},
		{"long user", strings.Repeat("u", match.MaxUserLen+1), match.Profile{}, match.ErrInvalidUser},
		{"control in user", "a\x00b", match.Profile{}, match.ErrInvalidUser},
		{"bad skip", "u", match.Profile{Skip: "\xff"}, match.ErrInvalidUser},
		{"unknown attribute", "u", match.Profile{Attrs: map[string]string{"age": "30"}}, match.ErrInvalidProfile},
		{"empty value", "u", match.Profile{Attrs: map[string]string{match.Gender: ""}}, match.ErrInvalidProfile},
		{"long value", "u", match.Profile{Attrs: map[string]string{match.Gender: long}}, match.ErrInvalidProfile},
		{"padded value", "u", match.Profile{Attrs: map[string]string{match.Gender: " f"}}, match.ErrInvalidProfile},
		{"too many interests", "u", match.Profile{Interests: many(match.MaxInterests + 1)}, match.ErrInvalidProfile},
		{"bad interest", "u", match.Profile{Interests: []string{"ok", "a\nb"}}, match.ErrInvalidProfile},
		{"unknown preference", "u", match.Profile{Want: match.Preferences{Attrs: map[string][]string{"height": {"tall"}}}}, match.ErrInvalidProfile},
		{"too many values", "u", match.Profile{Want: match.Preferences{Attrs: map[string][]string{match.Language: many(match.MaxWantValues + 1)}}}, match.ErrInvalidProfile},
		{"bad wanted value", "u", match.Profile{Want: match.Preferences{Attrs: map[string][]string{match.Language: {""}}}}, match.ErrInvalidProfile},
		{"interest wanted, none held", "u", match.Profile{Want: match.Preferences{CommonInterest: true}}, match.ErrInvalidProfile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := q.Enqueue(tc.user, tc.p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if q.Len() != 0 {
		t.Fatalf("Len = %d after refusals", q.Len())
	}
	// Duplicates collapse, so a repeated interest or value is not refused.
	p := match.Profile{Interests: []string{"a", "a"}, Want: match.Preferences{Attrs: map[string][]string{match.Gender: {"f", "f"}}}}
	enqueue(t, q, "u", p, "")
	if _, _, err := q.Enqueue("u", match.Profile{}); !errors.Is(err, match.ErrQueued) {
		t.Fatalf("second Enqueue: err = %v, want ErrQueued", err)
	}
}
