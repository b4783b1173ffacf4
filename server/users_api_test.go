package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/call"
	"github.com/talkrelay/talkrelay/server/servertest"
)

// apiError is the body of an API error.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// userTokens mints a caller token for identity and an admin token.
func userTokens(t *testing.T, n *servertest.Node, identity string) (caller, admin string) {
	t.Helper()
	caller, err := n.Minter.Mint(auth.Grant{Identity: identity, Name: identity, Role: auth.RoleCaller}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	admin, err = n.Minter.Mint(auth.Grant{Identity: "ops", Role: auth.RoleAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return caller, admin
}

// putSettings PUTs body to url and returns the status and the response body.
func putSettings(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(out)
}

func TestUserSettingsAPI(t *testing.T) {
	n := servertest.Start(t)
	alice, admin := userTokens(t, n, "alice")
	url := n.URL + "/v1/users/alice/settings"

	// Nothing saved: the defaults, {}.
	var raw map[string]any
	getJSON(t, url, alice, http.StatusOK, &raw)
	if len(raw) != 0 {
		t.Fatalf("settings of a new user = %v, want {}", raw)
	}

	body := `{"time_zone":"Asia/Seoul","available_from":"22:00","available_to":"07:00","accept":["voice","video"]}`
	want := call.Settings{TimeZone: "Asia/Seoul", AvailableFrom: "22:00", AvailableTo: "07:00", Accept: []string{call.ModeVoice, call.ModeVideo}}
	status, resp := putSettings(t, url, alice, body)
	if status != http.StatusOK {
		t.Fatalf("PUT: status %d: %s", status, resp)
	}
	var echoed call.Settings
	if err := json.Unmarshal([]byte(resp), &echoed); err != nil || !reflect.DeepEqual(echoed, want) {
		t.Fatalf("PUT answered %s (%v), want %+v", resp, err, want)
	}
	for _, tok := range []string{alice, admin} {
		var got call.Settings
		getJSON(t, url, tok, http.StatusOK, &got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("GET = %+v, want %+v", got, want)
		}
	}

	// An admin may change them; "accept none" comes back as [], not absent.
	if status, resp := putSettings(t, url, admin, `{"accept":[]}`); status != http.StatusOK {
		t.Fatalf("admin PUT: status %d: %s", status, resp)
	}
	var got call.Settings
	getJSON(t, url, alice, http.StatusOK, &got)
	if got.Accept == nil || len(got.Accept) != 0 || got.TimeZone != "" {
		t.Fatalf("after replacing with accept none: %+v", got)
	}
}

func TestUserSettingsAPIBadInput(t *testing.T) {
	n := servertest.Start(t)
	alice, _ := userTokens(t, n, "alice")
	url := n.URL + "/v1/users/alice/settings"
	for _, tc := range []struct {
		name, body string
		status     int
		code, says string
	}{
		{"unknown zone", `{"time_zone":"Mars/Base"}`, 400, "invalid_settings", `unknown time zone "Mars/Base"`},
		{"bad clock", `{"available_from":"7pm","available_to":"07:00"}`, 400, "invalid_settings", "available_from"},
		{"half window", `{"available_from":"09:00"}`, 400, "invalid_settings", "together"},
		{"unknown mode", `{"accept":["fax"]}`, 400, "invalid_settings", `unknown mode "fax"`},
		{"duplicate mode", `{"accept":["voice","voice"]}`, 400, "invalid_settings", "twice"},
		{"unknown field", `{"time_zone":"UTC","dnd":true}`, 400, "bad_request", `unknown field "dnd"`},
		{"wrong type", `{"accept":"voice"}`, 400, "bad_request", "JSON object"},
		{"not an object", `["voice"]`, 400, "bad_request", "JSON object"},
		{"null", `null`, 400, "bad_request", "null"},
		{"empty", ``, 400, "bad_request", "JSON object"},
		{"malformed", `{"time_zone":`, 400, "bad_request", "JSON object"},
		{"two objects", `{} {}`, 400, "bad_request", "after the object"},
		{"too large", `{"time_zone":"` + strings.Repeat("x", 17<<10) + `"}`, 413, "too_large", "16384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := putSettings(t, url, alice, tc.body)
			var e apiError
			if err := json.Unmarshal([]byte(resp), &e); err != nil {
				t.Fatalf("status %d, body %q: %v", status, resp, err)
			}
			if status != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.says) {
				t.Fatalf("status %d, %+v; want %d, %s mentioning %q", status, e.Error, tc.status, tc.code, tc.says)
			}
		})
	}
	// Nothing bad was saved.
	var raw map[string]any
	getJSON(t, url, alice, http.StatusOK, &raw)
	if len(raw) != 0 {
		t.Fatalf("settings after refused PUTs = %v", raw)
	}
	// An identity the store refuses is a bad request, not a server error.
	long := strings.Repeat("x", 600)
	longTok, _ := userTokens(t, n, long)
	getJSON(t, n.URL+"/v1/users/"+long+"/settings", longTok, http.StatusBadRequest, nil)
}

func TestUserAPIAuth(t *testing.T) {
	n := servertest.Start(t)
	alice, admin := userTokens(t, n, "alice")
	bob, _ := userTokens(t, n, "bob")
	viewer := n.Token(t, "room", "alice", auth.RoleViewer)
	host := n.Token(t, "room", "alice", auth.RoleHost)
	for _, path := range []string{"/v1/users/alice/settings", "/v1/users/alice/calls"} {
		url := n.URL + path
		getJSON(t, url, "", http.StatusUnauthorized, nil)
		getJSON(t, url, "garbage", http.StatusUnauthorized, nil)
		getJSON(t, url, bob, http.StatusForbidden, nil)    // another caller
		getJSON(t, url, viewer, http.StatusForbidden, nil) // alice, but not as a caller
		getJSON(t, url, host, http.StatusForbidden, nil)
		getJSON(t, url, alice, http.StatusOK, nil)
		getJSON(t, url, admin, http.StatusOK, nil)
	}
	url := n.URL + "/v1/users/alice/settings"
	for _, tc := range []struct {
		token  string
		status int
	}{
		{"", http.StatusUnauthorized},
		{"garbage", http.StatusUnauthorized},
		{bob, http.StatusForbidden},
		{viewer, http.StatusForbidden},
	} {
		if status, resp := putSettings(t, url, tc.token, `{"accept":["chat"]}`); status != tc.status {
			t.Fatalf("PUT with token %.10q: status %d, want %d: %s", tc.token, status, tc.status, resp)
		}
	}
	// None of them changed anything.
	var raw map[string]any
	getJSON(t, url, alice, http.StatusOK, &raw)
	if len(raw) != 0 {
		t.Fatalf("settings after refused PUTs = %v", raw)
	}
}

func TestUserCallsAPI(t *testing.T) {
	n := servertest.Start(t)
	alice, admin := userTokens(t, n, "alice")
	url := n.URL + "/v1/users/alice/calls"
	for _, u := range []string{url, url + "?limit=1", url + "?limit=500"} {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+alice)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
			t.Fatalf("GET %s: %d %s, want 200 []", u, resp.StatusCode, body)
		}
	}
	for _, q := range []string{"0", "501", "-1", "ten"} {
		getJSON(t, url+"?limit="+q, admin, http.StatusBadRequest, nil)
	}
}
