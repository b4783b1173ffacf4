// talkrelay.js — a small browser client for talkrelay's WebSocket signaling
// protocol (signal/PROTOCOL.md), and (from whip.js) WHIP and WHEP. No build
// step: pages import it as an ES module.
//
//   const s = new Session({token});
//   s.addEventListener('viewer_count', e => show(e.detail.count));
//   await s.connect();
//   await s.publish(stream);            // hosts
//   s.addEventListener('stream', e => video.srcObject = e.detail.stream); // viewers

const PING_EVERY_MS = 20000;
const REQUEST_TIMEOUT_MS = 15000;

// devToken asks a dev-mode server for a token (POST /dev/token). It rejects
// when the server is not in dev mode (404): then a token must come otherwise.
export async function devToken({room = '', identity = '', name = '', role = 'viewer'} = {}) {
  const res = await fetch('/dev/token', {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({room, identity, name, role}),
  });
  if (!res.ok) throw new Error(`no dev token (HTTP ${res.status}): pass ?token=… in the URL`);
  return res.json(); // {token, identity, name, room, role}
}

// tokenFor returns the page's ?token=, or a dev token for the page's ?room=,
// ?identity= and ?name= with the given role.
export async function tokenFor(role, params = new URLSearchParams(location.search)) {
  const given = params.get('token');
  if (given) return {token: given, room: params.get('room') || '', identity: params.get('identity') || ''};
  return devToken({room: params.get('room') || '', identity: params.get('identity') || '', name: params.get('name') || '', role});
}

function wsURL() {
  const u = new URL('/ws', location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

function delay(ms) { return new Promise(r => setTimeout(r, ms)); }

// Session is one participant: a WebSocket, the publisher and subscriber peer
// connections and the chat data channel. It dispatches a CustomEvent per
// server message type (detail: the message), plus:
//   state   {state: connecting|connected|reconnecting|closed, error?}
//   stream  {stream}: the subscriber's media (viewers, calls)
//   chat    {messages}: chat messages to show, in seq order
//   chatnotice {type, ...}: deleted, cleared, gap, slow_mode, timed_out, error
//   rejoined: the session could not be resumed and a new one joined: its
//             connections are new (a host publishes again if it wants)
export class Session extends EventTarget {
  constructor({token, room = '', url = wsURL(), iceServers = []}) {
    super();
    this.token = token;
    this.room = room;
    this.url = url;
    this.iceServers = iceServers;
    this.state = 'new';
    this.states = []; // every state so far, for pages that show history and for tests
    this.joined = null;
    this.pending = new Map(); // request id → {resolve, reject, timer}
    this.nextID = 1;
    this.resumeToken = '';
    this.chatSeq = 0;
    this.pub = null; // publisher RTCPeerConnection
    this.sub = null; // subscriber RTCPeerConnection
    this.chatChannel = null;
    this.chatWaiting = new Map(); // chat request id → resolve
    this.stream = null; // what publish() sends
    this.remote = new MediaStream();
    this.leaving = false;
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, {detail})); }

  setState(state, error) {
    this.state = state;
    this.states.push(state);
    this.emit('state', {state, error});
  }

  // connect opens the WebSocket and joins; it resolves with `joined`.
  async connect() {
    this.setState('connecting');
    const joined = await this.open('');
    this.setState('connected');
    return joined;
  }

  // open dials and sends join (with a resume token when resuming); it
  // resolves with the joined or resumed message's `joined`.
  open(resume) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let answered = false;
      ws.onopen = () => {
        const join = {type: 'join', id: 'join', token: this.token};
        if (this.room) join.room = this.room;
        if (resume) join.resume = resume;
        if (this.chatSeq) join.chat_after = this.chatSeq;
        ws.send(JSON.stringify(join));
      };
      ws.onmessage = (ev) => {
        let m;
        try { m = JSON.parse(ev.data); } catch { return; }
        if (!answered && (m.type === 'joined' || m.type === 'resumed')) {
          answered = true;
          this.onJoined(m);
          resolve(m.joined);
          return;
        }
        if (!answered && m.type === 'error' && m.error && m.error.fatal) {
          answered = true;
          reject(new Error(`${m.error.code}: ${m.error.message}`));
        }
        this.onMessage(m);
      };
      ws.onclose = (ev) => {
        if (ws !== this.ws) return;
        clearInterval(this.pinger);
        if (!answered) {
          answered = true;
          reject(new Error(`connection closed (${ev.code})`));
          return;
        }
        this.onDrop(ev);
      };
    });
  }

  onJoined(m) {
    const fresh = m.type === 'joined' && this.joined !== null;
    this.joined = m.joined;
    this.resumeToken = m.joined.resume_token || '';
    if (m.joined.ice_servers) {
      this.iceServers = m.joined.ice_servers.map((s) => ({urls: s.urls, username: s.username, credential: s.credential}));
    }
    clearInterval(this.pinger);
    this.pinger = setInterval(() => this.send({type: 'ping'}), PING_EVERY_MS);
    if (fresh) {
      // The old session is gone: so are its connections.
      this.closeSubscriber();
      if (this.pub) { this.pub.close(); this.pub = null; }
      this.emit('rejoined', m.joined);
    }
    this.emit(m.type, m);
  }

  // onDrop handles a closed WebSocket: a fatal error or our own leave ends
  // the session, anything else is a dropped network: resume.
  async onDrop(ev) {
    if (this.leaving || this.fatal) {
      this.setState('closed', this.fatal);
      this.shutdown();
      return;
    }
    this.setState('reconnecting');
    for (let attempt = 0; !this.leaving; attempt++) {
      await delay(Math.min(500 * 2 ** attempt, 5000));
      if (this.leaving) break;
      try {
        await this.open(this.resumeToken);
        this.setState('connected');
        return;
      } catch (e) {
        if (/^(unauthorized|token_expired|forbidden|banned|kicked|live_in_progress|wrong_room)/.test(e.message)) {
          this.fatal = e.message;
          break;
        }
      }
    }
    this.setState('closed', this.fatal);
    this.shutdown();
  }

  send(m) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  // request sends m with a fresh id and resolves with the reply that echoes
  // it (or rejects with its error).
  request(m) {
    const id = String(this.nextID++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${m.type}: no reply`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, {resolve, reject, timer});
      this.send({...m, id});
    });
  }

  onMessage(m) {
    if (m.id && this.pending.has(m.id)) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.type === 'error') p.reject(Object.assign(new Error(`${m.error.code}: ${m.error.message}`), {code: m.error.code}));
      else p.resolve(m);
      if (m.type === 'answer') return; // the publisher's answer is the request's
    }
    switch (m.type) {
      case 'offer': this.onSubscriberOffer(m.sdp); break;
      case 'candidate': this.onCandidate(m); break;
      case 'error':
        if (m.error && m.error.fatal) this.fatal = `${m.error.code}: ${m.error.message}`;
        break;
    }
    this.emit(m.type, m);
  }

  newPC() {
    return new RTCPeerConnection({iceServers: this.iceServers, bundlePolicy: 'max-bundle'});
  }

  // publish sends stream's tracks on the publisher connection (hosts, calls).
  async publish(stream) {
    this.stream = stream;
    const pc = this.newPC();
    this.pub = pc;
    for (const t of stream.getTracks()) pc.addTransceiver(t, {direction: 'sendonly', streams: [stream]});
    pc.onicecandidate = (e) => {
      if (e.candidate) this.send({type: 'candidate', target: 'publisher', candidate: e.candidate.toJSON()});
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' && this.pub === pc) this.renegotiate(true);
    };
    await this.renegotiate(false);
    return pc;
  }

  // renegotiate offers the publisher connection again (ICE restart when asked).
  async renegotiate(iceRestart) {
    const pc = this.pub;
    if (!pc) return;
    const offer = await pc.createOffer({iceRestart});
    await pc.setLocalDescription(offer);
    const reply = await this.request({type: 'offer', sdp: offer.sdp});
    await pc.setRemoteDescription({type: 'answer', sdp: reply.sdp});
  }

  // replaceTrack swaps the track of a kind being published (camera on/off).
  async replaceTrack(kind, track) {
    if (!this.pub) return;
    for (const t of this.pub.getTransceivers()) {
      if (t.receiver.track.kind === kind) await t.sender.replaceTrack(track);
    }
  }

  stopPublishing() {
    if (this.pub) { this.pub.close(); this.pub = null; }
  }

  async onSubscriberOffer(sdp) {
    if (!this.sub) this.openSubscriber();
    const pc = this.sub;
    try {
      await pc.setRemoteDescription({type: 'offer', sdp});
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      this.send({type: 'answer', sdp: answer.sdp});
    } catch (e) {
      console.warn('subscriber offer', e);
    }
  }

  openSubscriber() {
    const pc = this.newPC();
    this.sub = pc;
    this.remote = new MediaStream();
    pc.onicecandidate = (e) => {
      if (e.candidate) this.send({type: 'candidate', target: 'subscriber', candidate: e.candidate.toJSON()});
    };
    pc.ontrack = (e) => {
      for (const old of this.remote.getTracks()) {
        if (old.kind === e.track.kind) this.remote.removeTrack(old);
      }
      this.remote.addTrack(e.track);
      this.emit('stream', {stream: this.remote, track: e.track});
    };
    pc.ondatachannel = (e) => { if (e.channel.label === 'chat') this.useChat(e.channel); };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' && this.sub === pc) this.send({type: 'ice_restart', target: 'subscriber'});
    };
  }

  closeSubscriber() {
    if (this.sub) this.sub.close();
    this.sub = null;
    this.chatChannel = null;
  }

  onCandidate(m) {
    const pc = m.target === 'publisher' ? this.pub : this.sub;
    if (pc && m.candidate) pc.addIceCandidate(m.candidate).catch(() => {});
  }

  // --- chat (the `chat` data channel) ---

  useChat(dc) {
    this.chatChannel = dc;
    dc.onopen = () => this.emit('chatopen', {});
    dc.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (m.id && this.chatWaiting.has(m.id)) {
        const done = this.chatWaiting.get(m.id);
        this.chatWaiting.delete(m.id);
        done(m);
      }
      if (m.type === 'messages') {
        const msgs = (m.messages || []).filter(x => x.seq > this.chatSeq || m.id);
        for (const x of msgs) this.chatSeq = Math.max(this.chatSeq, x.seq);
        if (msgs.length) this.emit('chat', {messages: msgs, history: !!m.id});
      } else if (m.type !== 'ack') {
        this.emit('chatnotice', m);
      }
    };
  }

  chatReady() { return this.chatChannel && this.chatChannel.readyState === 'open'; }

  // sendChat sends text; it resolves with the ack or rejects with the error.
  sendChat(text) {
    if (!this.chatReady()) return Promise.reject(new Error('chat is not connected yet'));
    const id = 'c' + (this.nextID++);
    return new Promise((resolve, reject) => {
      this.chatWaiting.set(id, (m) => m.type === 'error' ? reject(new Error(m.error.message)) : resolve(m));
      this.chatChannel.send(JSON.stringify({type: 'send', id, text}));
    });
  }

  // hideChat tells the server to stop (or resume) sending chat: per participant.
  hideChat(hidden) {
    if (this.chatReady()) this.chatChannel.send(JSON.stringify({type: 'hide', hidden}));
  }

  // --- host controls, calls ---

  setMuted(kind, muted) { this.send({type: 'mute', kind, muted}); }
  async endLive() { this.send({type: 'end_live'}); this.stopPublishing(); }
  invite(callee, mode) { return this.request({type: 'call.invite', callee, mode}); }
  accept(callID) { return this.request({type: 'call.accept', call_id: callID}); }
  decline(callID) { return this.request({type: 'call.decline', call_id: callID}); }
  cancel(callID) { return this.request({type: 'call.cancel', call_id: callID}); }
  hangup(callID) { return this.request({type: 'call.hangup', call_id: callID}); }

  // callEnded resets the media of a finished call: the next call negotiates
  // new connections.
  callEnded() {
    this.stopPublishing();
    this.closeSubscriber();
  }

  leave() {
    this.leaving = true;
    this.send({type: 'leave'});
    this.shutdown();
    this.setState('closed');
  }

  shutdown() {
    clearInterval(this.pinger);
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(new Error('session closed')); }
    this.pending.clear();
    this.stopPublishing();
    this.closeSubscriber();
  }

  // videoStats reads the subscriber's inbound video: frames decoded and size.
  async videoStats() { return inboundVideo(this.sub); }
}

// inboundVideo sums pc's inbound-rtp video stats (for pages and tests).
export async function inboundVideo(pc) {
  const out = {framesDecoded: 0, frameWidth: 0, frameHeight: 0, packetsReceived: 0};
  if (!pc) return out;
  const stats = await pc.getStats();
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') {
      out.framesDecoded += r.framesDecoded || 0;
      out.frameWidth = Math.max(out.frameWidth, r.frameWidth || 0);
      out.frameHeight = Math.max(out.frameHeight, r.frameHeight || 0);
      out.packetsReceived += r.packetsReceived || 0;
    }
  });
  return out;
}

export {whipPublish, whepPlay} from './whip.js';
