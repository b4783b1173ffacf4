#!/usr/bin/python3
"""An independent WHIP publisher: GStreamer's webrtcbin (libnice ICE, its own
DTLS and RTP stacks) sends test video (VP8) and audio (Opus); the WHIP
exchange (RFC 9725: POST the offer, apply the 201's answer, DELETE at the end)
is done here with urllib.

    gst_whip_publish.py URL TOKEN SECONDS

It prints one line per step ("answer 201 <Location>", "connected",
"deleted 200") and exits 0 when it published for SECONDS and deleted its
session.
"""
import sys
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

PIPELINE = """
webrtcbin name=webrtc bundle-policy=max-bundle
videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1
  ! videoconvert ! queue ! vp8enc deadline=1 target-bitrate=300000 keyframe-max-dist=15
  ! rtpvp8pay pt=96 ! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! webrtc.
audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! queue ! opusenc
  ! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc.
"""


def say(*words):
    print(*words, flush=True)


class Publisher:
    def __init__(self, url, token, seconds):
        self.url, self.token, self.seconds = url, token, seconds
        self.resource = None
        self.failed = False
        self.loop = GLib.MainLoop()
        self.pipe = Gst.parse_launch(PIPELINE)
        self.webrtc = self.pipe.get_by_name("webrtc")
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering)
        self.webrtc.connect("notify::connection-state", self.on_connection)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

    def fail(self, *why):
        say("error:", *why)
        self.failed = True
        self.loop.quit()

    def on_error(self, _bus, msg):
        err, debug = msg.parse_error()
        self.fail(err.message, debug)

    def on_negotiation_needed(self, element):
        for pad in element.sinkpads:
            t = pad.get_property("transceiver")
            if t is not None:
                t.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        promise = Gst.Promise.new_with_change_func(self.on_offer, element, None)
        element.emit("create-offer", None, promise)

    def on_offer(self, promise, element, _):
        promise.wait()
        reply = promise.get_reply()  # owns the offer: keep it while the offer is used
        offer = reply.get_value("offer")
        element.emit("set-local-description", offer, Gst.Promise.new())

    def on_gathering(self, element, _pspec):
        if element.get_property("ice-gathering-state") != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            return
        # No trickle: the offer goes with every candidate, as most WHIP
        # encoders send it.
        GLib.idle_add(self.post, element.get_property("local-description").sdp.as_text())

    def request(self, method, url, body=None, content_type=None):
        req = urllib.request.Request(url, data=body, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status, dict(res.headers), res.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()
        except urllib.error.URLError as e:
            return 0, {}, str(e.reason)

    def post(self, offer):
        status, headers, body = self.request("POST", self.url, offer.encode(), "application/sdp")
        if status != 201:
            self.fail("POST answered", status, body)
            return False
        self.resource = urllib.parse.urljoin(self.url, headers["Location"])
        say("answer", status, headers["Location"])
        ok, sdp = GstSdp.SDPMessage.new_from_text(body)
        if ok != GstSdp.SDPResult.OK:
            self.fail("answer does not parse")
            return False
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        self.webrtc.emit("set-remote-description", answer, Gst.Promise.new())
        GLib.timeout_add_seconds(self.seconds, self.finish)
        return False

    def on_connection(self, element, _pspec):
        state = element.get_property("connection-state")
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            say("connected")
        elif state == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            self.fail("connection failed")

    def finish(self):
        status, _, body = self.request("DELETE", self.resource)
        say("deleted", status)
        if status != 200:
            self.fail("DELETE answered", status, body)
        self.loop.quit()
        return False

    def run(self):
        self.pipe.set_state(Gst.State.PLAYING)
        # Never hang: give up well after the publishing time.
        GLib.timeout_add_seconds(self.seconds + 30, lambda: self.fail("timed out") or False)
        self.loop.run()
        self.pipe.set_state(Gst.State.NULL)
        return 1 if self.failed else 0


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    Gst.init(None)
    sys.exit(Publisher(sys.argv[1], sys.argv[2], int(sys.argv[3])).run())


if __name__ == "__main__":
    main()
