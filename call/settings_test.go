package call

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Settings
		want string // a part of the error; empty: valid
	}{
		{"zero value", Settings{}, ""},
		{"zone only", Settings{TimeZone: "Asia/Seoul"}, ""},
		{"UTC by name", Settings{TimeZone: "UTC"}, ""},
		{"day window", Settings{AvailableFrom: "09:00", AvailableTo: "18:00"}, ""},
		{"night window", Settings{TimeZone: "America/New_York", AvailableFrom: "22:00", AvailableTo: "07:00"}, ""},
		{"edges of the day", Settings{AvailableFrom: "00:00", AvailableTo: "23:59"}, ""},
		{"all modes", Settings{Accept: []string{ModeVideo, ModeChat, ModeVoice}}, ""},
		{"no modes", Settings{Accept: []string{}}, ""},

		{"unknown zone", Settings{TimeZone: "Mars/Olympus_Mons"}, `unknown time zone "Mars/Olympus_Mons"`},
		{"server's zone", Settings{TimeZone: "Local"}, `"Local"`},
		{"zone path", Settings{TimeZone: "../../etc/passwd"}, "unknown time zone"},
		{"from only", Settings{AvailableFrom: "09:00"}, "set together"},
		{"to only", Settings{AvailableTo: "18:00"}, "set together"},
		{"empty window", Settings{AvailableFrom: "09:00", AvailableTo: "09:00"}, "both 09:00"},
		{"hour 24", Settings{AvailableFrom: "24:00", AvailableTo: "09:00"}, `available_from: "24:00" is not a time of day`},
		{"minute 60", Settings{AvailableFrom: "09:00", AvailableTo: "10:60"}, `available_to: "10:60" is not a time of day`},
		{"one digit hour", Settings{AvailableFrom: "9:00", AvailableTo: "18:00"}, `"9:00" is not HH:MM`},
		{"seconds", Settings{AvailableFrom: "09:00:00", AvailableTo: "18:00"}, "is not HH:MM"},
		{"no colon", Settings{AvailableFrom: "09.00", AvailableTo: "18:00"}, "is not HH:MM"},
		{"letters", Settings{AvailableFrom: "09:00", AvailableTo: "ab:cd"}, "is not HH:MM"},
		{"sign", Settings{AvailableFrom: "+9:00", AvailableTo: "18:00"}, "is not HH:MM"},
		{"unknown mode", Settings{Accept: []string{ModeVoice, "fax"}}, `unknown mode "fax"`},
		{"mode case", Settings{Accept: []string{"Video"}}, `unknown mode "Video"`},
		{"duplicate mode", Settings{Accept: []string{ModeVoice, ModeChat, ModeVoice}}, `"voice" listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", tc.s, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate(%+v) = %v, want ErrInvalidSettings mentioning %q", tc.s, err, tc.want)
			}
		})
	}
}

func TestSettingsAllows(t *testing.T) {
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	day := Settings{AvailableFrom: "09:00", AvailableTo: "18:00"}
	night := Settings{AvailableFrom: "22:00", AvailableTo: "07:00"}
	// Seoul is UTC+9 all year.
	seoulDay := Settings{TimeZone: "Asia/Seoul", AvailableFrom: "09:00", AvailableTo: "18:00"}
	// New York is UTC-5 in winter, UTC-4 in summer (from 2025-03-09 02:00 local).
	nyDay := Settings{TimeZone: "America/New_York", AvailableFrom: "09:00", AvailableTo: "17:00"}

	for _, tc := range []struct {
		name   string
		s      Settings
		mode   string
		now    time.Time
		reason string // empty: allowed
	}{
		{"zero value", Settings{}, ModeVideo, utc("2025-01-01T03:00:00Z"), ""},
		{"unknown mode", Settings{}, "fax", utc("2025-01-01T12:00:00Z"), ReasonModeNotAccepted},
		{"accepted mode", Settings{Accept: []string{ModeVoice}}, ModeVoice, utc("2025-01-01T12:00:00Z"), ""},
		{"refused mode", Settings{Accept: []string{ModeVoice}}, ModeVideo, utc("2025-01-01T12:00:00Z"), ReasonModeNotAccepted},
		{"accepts none", Settings{Accept: []string{}}, ModeChat, utc("2025-01-01T12:00:00Z"), ReasonModeNotAccepted},
		{"mode checked first", Settings{Accept: []string{ModeChat}, AvailableFrom: "09:00", AvailableTo: "10:00"}, ModeVideo, utc("2025-01-01T20:00:00Z"), ReasonModeNotAccepted},

		{"day: from is inclusive", day, ModeVoice, utc("2025-01-01T09:00:00Z"), ""},
		{"day: inside", day, ModeVoice, utc("2025-01-01T12:30:00Z"), ""},
		{"day: last second", day, ModeVoice, utc("2025-01-01T17:59:59Z"), ""},
		{"day: to is exclusive", day, ModeVoice, utc("2025-01-01T18:00:00Z"), ReasonOutsideHours},
		{"day: before", day, ModeVoice, utc("2025-01-01T08:59:59Z"), ReasonOutsideHours},

		{"night: evening", night, ModeVoice, utc("2025-01-01T23:00:00Z"), ""},
		{"night: from", night, ModeVoice, utc("2025-01-01T22:00:00Z"), ""},
		{"night: midnight", night, ModeVoice, utc("2025-01-02T00:00:00Z"), ""},
		{"night: early", night, ModeVoice, utc("2025-01-02T06:59:00Z"), ""},
		{"night: to", night, ModeVoice, utc("2025-01-02T07:00:00Z"), ReasonOutsideHours},
		{"night: noon", night, ModeVoice, utc("2025-01-02T12:00:00Z"), ReasonOutsideHours},
		{"night: just before", night, ModeVoice, utc("2025-01-01T21:59:00Z"), ReasonOutsideHours},
		{"to midnight", Settings{AvailableFrom: "20:00", AvailableTo: "00:00"}, ModeChat, utc("2025-01-01T23:59:00Z"), ""},
		{"to midnight: after", Settings{AvailableFrom: "20:00", AvailableTo: "00:00"}, ModeChat, utc("2025-01-02T00:00:00Z"), ReasonOutsideHours},

		// 00:30 UTC is 09:30 in Seoul.
		{"seoul: morning there", seoulDay, ModeVideo, utc("2025-06-01T00:30:00Z"), ""},
		{"seoul: 18:00 there", seoulDay, ModeVideo, utc("2025-06-01T09:00:00Z"), ReasonOutsideHours},
		{"seoul: 08:59 there", seoulDay, ModeVideo, utc("2025-05-31T23:59:00Z"), ReasonOutsideHours},
		// now's own zone does not matter, only the instant.
		{"seoul: now given in Seoul", seoulDay, ModeVideo, time.Date(2025, 6, 1, 9, 30, 0, 0, seoul), ""},
		{"seoul night across midnight", Settings{TimeZone: "Asia/Seoul", AvailableFrom: "22:00", AvailableTo: "07:00"}, ModeVoice, utc("2025-06-01T14:30:00Z"), ""}, // 23:30 there

		// 13:30 UTC is 08:30 in New York in winter, 09:30 in summer.
		{"new york winter: before", nyDay, ModeVoice, utc("2025-03-08T13:30:00Z"), ReasonOutsideHours},
		{"new york summer: inside", nyDay, ModeVoice, utc("2025-03-10T13:30:00Z"), ""},
		// 21:30 UTC is 16:30 in winter, 17:30 in summer.
		{"new york winter: inside", nyDay, ModeVoice, utc("2025-11-03T21:30:00Z"), ""},
		{"new york summer: after", nyDay, ModeVoice, utc("2025-11-01T21:30:00Z"), ReasonOutsideHours},
		{"new york: wall clock", nyDay, ModeVoice, time.Date(2025, 7, 4, 9, 0, 0, 0, newYork), ""},
		// The night the clocks go back (2025-11-02 01:59 EDT -> 01:00 EST) a
		// 01:00-02:00 window holds for two real hours.
		{"new york: first 01:30", Settings{TimeZone: "America/New_York", AvailableFrom: "01:00", AvailableTo: "02:00"}, ModeVoice, utc("2025-11-02T05:30:00Z"), ""},
		{"new york: second 01:30", Settings{TimeZone: "America/New_York", AvailableFrom: "01:00", AvailableTo: "02:00"}, ModeVoice, utc("2025-11-02T06:30:00Z"), ""},
		{"new york: 02:30 after fall back", Settings{TimeZone: "America/New_York", AvailableFrom: "01:00", AvailableTo: "02:00"}, ModeVoice, utc("2025-11-02T07:30:00Z"), ReasonOutsideHours},
		// The night they go forward, 02:00-03:00 local never happens.
		{"new york: skipped hour", Settings{TimeZone: "America/New_York", AvailableFrom: "02:00", AvailableTo: "03:00"}, ModeVoice, utc("2025-03-09T07:00:00Z"), ReasonOutsideHours}, // 03:00 EDT

		// Invalid settings never make a user unreachable.
		{"bad zone counts as UTC", Settings{TimeZone: "Nowhere/Land", AvailableFrom: "09:00", AvailableTo: "10:00"}, ModeVoice, utc("2025-01-01T09:30:00Z"), ""},
		{"bad window is open", Settings{AvailableFrom: "9am", AvailableTo: "10:00"}, ModeVoice, utc("2025-01-01T20:00:00Z"), ""},
		{"half window is open", Settings{AvailableFrom: "09:00"}, ModeVoice, utc("2025-01-01T20:00:00Z"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := tc.s.Allows(tc.mode, tc.now)
			if ok != (tc.reason == "") || reason != tc.reason {
				t.Fatalf("Allows(%q, %v) = %v, %q; want reason %q", tc.mode, tc.now, ok, reason, tc.reason)
			}
		})
	}
}

func TestSettingsJSON(t *testing.T) {
	for _, tc := range []struct {
		in       string
		wantNil  bool // Accept is nil after decoding
		wantJSON string
	}{
		{`{}`, true, `{}`},
		{`{"accept":null}`, true, `{}`},
		{`{"accept":[]}`, false, `{"accept":[]}`},
		{`{"time_zone":"Asia/Seoul","available_from":"22:00","available_to":"07:00","accept":["voice"]}`, false,
			`{"time_zone":"Asia/Seoul","available_from":"22:00","available_to":"07:00","accept":["voice"]}`},
	} {
		var s Settings
		if err := json.Unmarshal([]byte(tc.in), &s); err != nil {
			t.Fatalf("decode %s: %v", tc.in, err)
		}
		if (s.Accept == nil) != tc.wantNil {
			t.Errorf("decode %s: Accept = %#v", tc.in, s.Accept)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != tc.wantJSON {
			t.Errorf("round trip of %s = %s, want %s", tc.in, out, tc.wantJSON)
		}
	}
	// "accept none" must survive a round trip: it does not turn into "accept all".
	var s Settings
	if err := json.Unmarshal([]byte(`{"accept":[]}`), &s); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Allows(ModeChat, time.Now()); ok {
		t.Fatal(`{"accept":[]} allows chat`)
	}
}

func BenchmarkSettingsAllows(b *testing.B) {
	s := Settings{TimeZone: "America/New_York", AvailableFrom: "22:00", AvailableTo: "07:00", Accept: []string{ModeVoice, ModeVideo}}
	now := time.Now()
	for b.Loop() {
		s.Allows(ModeVideo, now)
	}
}
