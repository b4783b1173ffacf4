package web_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/talkrelay/talkrelay/server"
	"github.com/talkrelay/talkrelay/server/servertest"
)

// chromiumPath is Debian's Chromium, the only browser the tests drive (no
// test downloads one).
const chromiumPath = "/usr/bin/chromium"

// requireChromium fails the test when Chromium is missing (CI installs it),
// unless TALKRELAY_SKIP_BROWSER=1 asks to skip the browser tests.
func requireChromium(t *testing.T) {
	t.Helper()
	if os.Getenv("TALKRELAY_SKIP_BROWSER") == "1" {
		t.Skip("TALKRELAY_SKIP_BROWSER=1: skipping the headless Chromium tests")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need headless Chromium at %s (apt-get install chromium; .ci/run installs it), "+
			"or TALKRELAY_SKIP_BROWSER=1 to skip them: %v", chromiumPath, err)
	}
}

// browser is one headless Chromium with a fake camera and microphone.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	requireChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		// Real addresses in candidates, not .local names (ENVIRONMENT.md).
		chromedp.Flag("disable-features", "site-per-process,Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &browser{t: t, ctx: ctx}
}

// page is one tab.
type page struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu  sync.Mutex
	log []string // the page's console and errors, shown when a test fails
}

// open opens url in a new tab; the page's console goes to the test log on
// failure.
func (b *browser) open(name, url string) *page {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	p := &page{t: b.t, name: name, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, strings.Trim(string(a.Value), `"`))
			}
			p.note(string(ev.Type) + ": " + strings.Join(args, " "))
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			p.note(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		}
	})
	if err != nil {
		b.t.Fatalf("%s: open a tab: %v", name, err)
	}
	b.t.Cleanup(func() {
		if b.t.Failed() {
			p.mu.Lock()
			b.t.Logf("%s console:\n  %s", p.name, strings.Join(p.log, "\n  "))
			p.mu.Unlock()
		}
	})
	p.do("navigate", chromedp.Navigate(url))
	return p
}

func (p *page) note(s string) {
	p.mu.Lock()
	p.log = append(p.log, s)
	p.mu.Unlock()
}

func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// eval evaluates js, awaiting a promise, into a T.
func eval[T any](p *page, js string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// waitFor polls js until it returns true.
func (p *page) waitFor(what, js string, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = eval[bool](p, js); last == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	state, _ := eval[string](p, `document.body.dataset.state || ''`)
	status, _ := eval[string](p, `(document.querySelector('#status') || {}).textContent || ''`)
	p.t.Fatalf("%s: timed out after %v waiting for %s (state %q, status %q, last error %v)", p.name, d, what, state, status, last)
}

func (p *page) waitState(state string, d time.Duration) {
	p.t.Helper()
	p.waitFor("state "+state, fmt.Sprintf(`document.body.dataset.state === %q`, state), d)
}

// videoStats is what the page's inbound video shows.
type videoStats struct {
	FramesDecoded int `json:"framesDecoded"`
	FrameWidth    int `json:"frameWidth"`
}

// decodes waits until the page decodes video: frames decoded keep rising and
// have a width. statsJS evaluates to a promise of videoStats.
func (p *page) decodes(statsJS string) {
	p.t.Helper()
	var first videoStats
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if s, err := eval[videoStats](p, statsJS); err == nil && s.FrameWidth > 0 && s.FramesDecoded > 0 {
			if first.FramesDecoded == 0 {
				first = s
			} else if s.FramesDecoded >= first.FramesDecoded+10 {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.t.Fatalf("%s: no decoded video (first sample %+v)", p.name, first)
}

// ok evaluates js, which must give true.
func (p *page) ok(js string) error {
	v, err := eval[bool](p, js)
	if err == nil && !v {
		err = fmt.Errorf("%s: %s gave false", p.name, js)
	}
	return err
}

func (p *page) text(sel string) string {
	s, _ := eval[string](p, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel))
	return s
}

func (p *page) click(sel string) { p.do("click "+sel, chromedp.Click(chromedp.CSS(sel))) }

// say types text into the chat box and sends it.
func (p *page) say(text string) {
	p.do("chat", chromedp.SendKeys(chromedp.CSS("#chat-input"), text), chromedp.Click(chromedp.CSS("#chat-form button")))
}

func startServer(t *testing.T) *servertest.Node {
	t.Helper()
	return servertest.Start(t, func(c *server.Config) { c.DevTokens = true })
}

// The live talk in real browsers: the host page goes live with Chromium's
// fake camera; two viewer pages decode the video and show 2 viewers; chat
// typed on one page appears on the others; the host ends the live and the
// viewers see the ended screen.
func TestBrowserLiveTalk(t *testing.T) {
	requireChromium(t)
	n := startServer(t)
	b := newBrowser(t)
	host := b.open("host", n.URL+"/host.html?room=browser&identity=alice&name=Alice")
	host.waitState("ready", 20*time.Second)
	host.click("#go-live")
	host.waitState("live", 20*time.Second)

	v1 := b.open("viewer 1", n.URL+"/watch.html?room=browser&identity=bob&name=Bob")
	v2 := b.open("viewer 2", n.URL+"/watch.html?room=browser&identity=carol&name=Carol")
	for _, v := range []*page{v1, v2} {
		v.waitState("live", 20*time.Second)
	}
	for _, v := range []*page{v1, v2} {
		v.decodes(`window.talkrelay.videoStats()`)
	}
	for _, p := range []*page{host, v1, v2} {
		p.waitFor("viewer count 2", `document.querySelector('#viewer-count').textContent === '2'`, 10*time.Second)
	}

	// Chat typed on one page appears on the others.
	v1.waitFor("chat channel open", `window.talkrelay.chatReady()`, 10*time.Second)
	v1.say("hello from Bob")
	for _, p := range []*page{host, v2, v1} {
		p.waitFor("Bob's message", `[...document.querySelectorAll('#chat-list li')].some(li => li.textContent === 'Bob hello from Bob')`, 10*time.Second)
	}
	host.waitFor("host chat open", `window.talkrelay.chatReady()`, 10*time.Second)
	host.say("welcome all")
	for _, p := range []*page{v1, v2} {
		p.waitFor("the host's message", `[...document.querySelectorAll('#chat-list li')].some(li => li.textContent === 'Alice welcome all')`, 10*time.Second)
	}

	// A viewer whose connection drops shows it reconnecting and comes back
	// to the live by itself: video again, counted once.
	if err := v1.ok(`window.talkrelay.ws.close(), true`); err != nil {
		t.Fatal(err)
	}
	v1.waitFor("reconnected", `window.talkrelay.states.slice(-2).join() === 'reconnecting,connected'`, 15*time.Second)
	v1.waitState("live", 5*time.Second)
	v1.decodes(`window.talkrelay.videoStats()`)
	host.waitFor("viewer count 2 again", `document.querySelector('#viewer-count').textContent === '2'`, 10*time.Second)

	// The host's mic and camera toggles reach the viewers.
	host.click("#camera")
	v2.waitFor("camera-off notice", `document.querySelector('#host-muted').textContent.includes('camera')`, 5*time.Second)
	host.click("#camera")
	v2.waitFor("camera back", `document.querySelector('#host-muted').hidden`, 5*time.Second)
	host.click("#mic")
	v2.waitFor("mic-off notice", `document.querySelector('#host-muted').textContent.includes('microphone')`, 5*time.Second)
	if got := host.text("#mic"); got != "Unmute mic" {
		t.Errorf("the mic button says %q once muted", got)
	}

	// Hide chat is the viewer's own: the list goes, the others are unaffected.
	v2.click("#hide-chat")
	v2.waitFor("chat hidden", `document.querySelector('.chat').classList.contains('chat-hidden')`, 5*time.Second)

	// The host ends the live: viewers stay, on the ended screen.
	host.click("#end-live")
	host.click("#confirm-yes")
	host.waitState("ended", 10*time.Second)
	for _, v := range []*page{v1, v2} {
		v.waitState("ended", 10*time.Second)
		v.waitFor("ended screen shown", `!document.querySelector('#ended').hidden && document.querySelector('#ended h2').textContent.includes('ended')`, 5*time.Second)
	}
	if got := v1.text("#viewer-count"); got != "2" {
		t.Errorf("viewer count after the end %q: viewers stay on the ended screen", got)
	}
}

// A Chromium page publishes over WHIP and another watches over WHEP.
func TestBrowserWHIPToWHEP(t *testing.T) {
	requireChromium(t)
	n := startServer(t)
	b := newBrowser(t)
	// The player comes first: it waits (409, Retry-After) until the live starts.
	player := b.open("WHEP player", n.URL+"/whep.html?room=standard&identity=viewer")
	player.waitState("waiting", 20*time.Second)
	pub := b.open("WHIP publisher", n.URL+"/whip.html?room=standard&identity=studio&autostart=1")
	pub.waitState("publishing", 20*time.Second)
	player.waitState("playing", 20*time.Second)
	player.decodes(`(async () => { const s = {framesDecoded: 0, frameWidth: 0};
		(await window.whep.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') {
			s.framesDecoded = r.framesDecoded || 0; s.frameWidth = r.frameWidth || 0; } });
		return s; })()`)
	if info, ok := n.Rooms().Room("standard"); !ok || info.Viewers != 1 || info.Live == nil {
		t.Fatalf("room %+v: want a live with the WHEP viewer counted", info)
	}
	// Stopping the publisher (DELETE) ends the live, and the player's session.
	pub.click("#stop")
	pub.waitState("ended", 10*time.Second)
	player.waitState("ended", 15*time.Second)
}

// Calls in real browsers: Alice calls Bob, Bob's page rings, he accepts, both
// see each other's video, Alice hangs up; then Bob declines a voice call.
func TestBrowserCall(t *testing.T) {
	requireChromium(t)
	n := startServer(t)
	b := newBrowser(t)
	alice := b.open("alice", n.URL+"/call.html?identity=alice&name=Alice")
	bob := b.open("bob", n.URL+"/call.html?identity=bob&name=Bob")
	alice.waitState("idle", 20*time.Second)
	bob.waitState("idle", 20*time.Second)

	alice.do("dial", chromedp.SendKeys(chromedp.CSS("#callee"), "bob"), chromedp.Click(chromedp.CSS(`#dial button[value="video"]`)))
	alice.waitState("calling", 10*time.Second)
	bob.waitState("ringing", 10*time.Second)
	if got := bob.text("#incoming-who"); !strings.Contains(got, "Alice") {
		t.Fatalf("Bob's page says %q", got)
	}
	bob.click("#accept")
	for _, p := range []*page{alice, bob} {
		p.waitState("active", 10*time.Second)
	}
	for _, p := range []*page{alice, bob} {
		p.decodes(`window.talkrelay.videoStats()`)
	}
	alice.click("#hangup")
	for _, p := range []*page{alice, bob} {
		p.waitState("idle", 10*time.Second)
		p.waitFor("call ended", `document.querySelector('#status').textContent === 'Call ended'`, 5*time.Second)
	}

	alice.do("dial again", chromedp.Click(chromedp.CSS(`#dial button[value="voice"]`)))
	bob.waitState("ringing", 10*time.Second)
	bob.click("#decline")
	alice.waitFor("declined", `document.querySelector('#status').textContent.includes('declined')`, 10*time.Second)
	bob.waitState("idle", 10*time.Second)
}

// The host's connection drops for longer than the server keeps its session:
// the viewer's page says the host is reconnecting (the live goes on), and
// when the host page gets through again it publishes anew and the viewer
// watches the same live again.
func TestBrowserViewerSeesHostReconnecting(t *testing.T) {
	requireChromium(t)
	n := servertest.Start(t, func(c *server.Config) {
		c.DevTokens = true
		c.ResumeWindow = 500 * time.Millisecond
		c.HostGrace = 30 * time.Second
	})
	b := newBrowser(t)
	host := b.open("host", n.URL+"/host.html?room=comeback&identity=alice&name=Alice")
	host.waitState("ready", 20*time.Second)
	host.click("#go-live")
	host.waitState("live", 20*time.Second)
	viewer := b.open("viewer", n.URL+"/watch.html?room=comeback&identity=bob&name=Bob")
	viewer.waitState("live", 20*time.Second)
	viewer.decodes(`window.talkrelay.videoStats()`)
	liveID, err := eval[string](viewer, `window.talkrelay.joined.live.id`)
	if err != nil {
		t.Fatal(err)
	}
	if err := viewer.ok(`window.talkrelay.addEventListener('live_resumed', (e) => { window.resumedLive = e.detail.live.id; }), true`); err != nil {
		t.Fatal(err)
	}

	// The host page loses its signaling and cannot dial again for a while
	// (its WebSocket constructor fails, as offline): its session expires.
	if err := host.ok(`window.__ws = WebSocket, window.WebSocket = function() { throw new Error('offline'); }, window.talkrelay.ws.close(), true`); err != nil {
		t.Fatal(err)
	}
	viewer.waitState("interrupted", 15*time.Second)
	viewer.waitFor("the reconnecting notice", `document.querySelector('#status').textContent.includes('reconnecting')`, 5*time.Second)

	// Back online: the host page rejoins and publishes; the same live runs.
	if err := host.ok(`window.WebSocket = window.__ws, true`); err != nil {
		t.Fatal(err)
	}
	viewer.waitState("live", 30*time.Second)
	viewer.decodes(`window.talkrelay.videoStats()`)
	if got, err := eval[string](viewer, `window.resumedLive || ''`); err != nil || got != liveID {
		t.Fatalf("live_resumed for %q (%v); want the same live %q", got, err, liveID)
	}
}
