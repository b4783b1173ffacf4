// whip.js — WHIP (RFC 9725) and WHEP clients for the browser: publish a
// stream to /whip/ROOM, play /whep/ROOM. Pages import them from talkrelay.js.

function delay(ms) { return new Promise(r => setTimeout(r, ms)); }

// gathered waits until pc has gathered its candidates (at most ms).
function gathered(pc, ms = 3000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
}

// HTTPSession is a WHIP or WHEP session: the peer connection and the
// resource to DELETE when done.
class HTTPSession {
  constructor(pc, resource, token) { this.pc = pc; this.resource = resource; this.token = token; }
  // stop deletes the session, then closes the connection: a connection that
  // merely closes looks like a network failure, which a live survives for a
  // while (the server waits for its host to come back).
  async stop() {
    if (this.resource) {
      const resource = this.resource;
      this.resource = '';
      await fetch(resource, {method: 'DELETE', headers: {Authorization: 'Bearer ' + this.token}, keepalive: true}).catch(() => {});
    }
    this.pc.close();
  }
}

async function exchange(url, token, pc) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await gathered(pc);
  const res = await fetch(url, {
    method: 'POST',
    headers: {'Content-Type': 'application/sdp', Authorization: 'Bearer ' + token},
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) {
    let msg = `HTTP ${res.status}`;
    try { msg = (await res.json()).error.message; } catch {}
    throw Object.assign(new Error(msg), {status: res.status, retryAfter: Number(res.headers.get('Retry-After') || 0)});
  }
  const answer = await res.text();
  await pc.setRemoteDescription({type: 'answer', sdp: answer});
  return new URL(res.headers.get('Location'), url).toString();
}

// whipPublish sends stream to a WHIP endpoint (e.g. /whip/ROOM) with a host token.
export async function whipPublish(url, token, stream) {
  const pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  for (const t of stream.getTracks()) pc.addTransceiver(t, {direction: 'sendonly', streams: [stream]});
  try {
    return new HTTPSession(pc, await exchange(url, token, pc), token);
  } catch (e) {
    pc.close();
    throw e;
  }
}

// whepPlay watches a WHEP endpoint (e.g. /whep/ROOM) with a viewer token.
// While the room is not live (409) it waits as Retry-After says, calling
// onWaiting, until signal aborts.
export async function whepPlay(url, token, {onTrack = () => {}, onWaiting = () => {}, signal} = {}) {
  for (;;) {
    const pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
    pc.addTransceiver('audio', {direction: 'recvonly'});
    pc.addTransceiver('video', {direction: 'recvonly'});
    const stream = new MediaStream();
    pc.ontrack = (e) => { stream.addTrack(e.track); onTrack(stream, e.track); };
    try {
      const session = new HTTPSession(pc, await exchange(url, token, pc), token);
      session.stream = stream;
      return session;
    } catch (e) {
      pc.close();
      if (e.status !== 409 && e.status !== 503) throw e;
      onWaiting(e);
      await delay(1000 * (e.retryAfter || 2));
      if (signal && signal.aborted) throw new Error('stopped');
    }
  }
}
