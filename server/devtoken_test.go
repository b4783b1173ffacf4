package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/auth"
	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
)

func postDevToken(t *testing.T, url, body string) (*http.Response, map[string]string) {
	t.Helper()
	res, err := http.Post(url+"/dev/token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res, out
}

// POST /dev/token exists only in dev mode, and mints what it is asked for
// (never admin).
func TestDevTokens(t *testing.T) {
	off := servertest.Start(t)
	if res, _ := postDevToken(t, off.URL, `{"room":"demo","role":"host"}`); res.StatusCode == http.StatusOK {
		t.Fatal("dev tokens served without DevTokens")
	}

	n := servertest.Start(t, func(c *server.Config) { c.DevTokens = true })
	res, out := postDevToken(t, n.URL, `{"room":"demo","identity":"alice","name":"Alice","role":"host"}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	g, err := auth.NewVerifier(map[string]string{auth.DevAPIKey: auth.DevAPISecret}).Verify(out["token"])
	if err != nil || g != (auth.Grant{Identity: "alice", Name: "Alice", Room: "demo", Role: auth.RoleHost}) {
		t.Fatalf("grant %+v (%v)", g, err)
	}
	_, out = postDevToken(t, n.URL, `{"room":"demo"}`)
	if !strings.HasPrefix(out["identity"], "guest-") || out["role"] != "viewer" {
		t.Fatalf("defaults %v", out)
	}
	for _, bad := range []string{`{"role":"admin","room":"demo"}`, `{"role":"host"}`, `not json`} {
		if res, _ := postDevToken(t, n.URL, bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, res.StatusCode)
		}
	}
	page, err := http.Get(n.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", page.StatusCode, page.Header.Get("Content-Type"))
	}
}
