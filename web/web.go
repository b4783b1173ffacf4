// Package web is talkrelay's browser app, embedded in the binary and served
// at /: a host page (camera, go live, mic and camera toggles, chat, viewer
// count, duration, end), a viewer page (the live, chat, viewer count,
// reconnecting, the ended screen), a call page (call, ring, accept or
// decline, hang up), WHIP and WHEP pages, and the small JavaScript client
// library they share (static/js/talkrelay.js). Plain HTML, CSS and ES
// modules: nothing to build.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Static is the app's files, rooted at the site's root.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	return sub
}

// Handler serves the app. Pages are revalidated on every load (no-cache), so
// a new server version is picked up at once.
func Handler() http.Handler {
	files := http.FileServerFS(Static())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
