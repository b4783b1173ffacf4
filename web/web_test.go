package web_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/web"
)

// Every page, script and stylesheet a page or module refers to is embedded.
func TestReferencesResolve(t *testing.T) {
	files := web.Static()
	refs := regexp.MustCompile(`(?:src|href)="(/[^"?#]*)"|from '(\./[^']+)'`)
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".js")) {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		for _, m := range refs.FindAllStringSubmatch(string(b), -1) {
			target := strings.TrimPrefix(m[1], "/")
			if m[2] != "" {
				target = path.Join(path.Dir(name), m[2])
			}
			if target == "" {
				continue // "/": the index
			}
			if _, err := fs.Stat(files, target); err != nil {
				t.Errorf("%s refers to %s, which is not embedded", name, target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for p, ctype := range map[string]string{
		"/":                "text/html",
		"/host.html":       "text/html",
		"/watch.html":      "text/html",
		"/call.html":       "text/html",
		"/js/talkrelay.js": "text/javascript",
		"/app.css":         "text/css",
	} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %q, want 200 %s", p, res.StatusCode, res.Header.Get("Content-Type"), ctype)
		}
		if res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: headers %v", p, res.Header)
		}
	}
	res, err := http.Get(srv.URL + "/nope.html")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("GET /nope.html: %d", res.StatusCode)
	}
}
