// The call page: this browser is one device of its user. Call someone, ring,
// accept or decline, hang up; voice or video.
import {Session, tokenFor} from './talkrelay.js';
import {$, params, setState, show, toggleLabel, Clock} from './ui.js';

const status = (text) => { $('#status').textContent = text; show($('#status'), !!text); };

// Ringer plays a ring tone while a call rings (Web Audio: no sound file).
class Ringer {
  start() {
    if (this.timer) return;
    try { this.ctx = this.ctx || new AudioContext(); } catch { return; }
    const beep = () => {
      const o = this.ctx.createOscillator(), g = this.ctx.createGain();
      o.frequency.value = 440;
      g.gain.value = 0.1;
      o.connect(g).connect(this.ctx.destination);
      o.start();
      o.stop(this.ctx.currentTime + 0.8);
    };
    beep();
    this.timer = setInterval(beep, 2000);
  }
  stop() { clearInterval(this.timer); this.timer = 0; }
}

async function main() {
  const tok = await tokenFor('caller', params());
  const s = new Session({token: tok.token});
  window.talkrelay = s; // for the console and tests
  const ringer = new Ringer();
  const clock = new Clock($('#duration'));
  let call = null; // the current call (wire Call object)
  let local = null; // our camera/mic while in a call

  const idle = (text) => {
    call = null;
    ringer.stop();
    clock.stop();
    s.callEnded();
    if (local) { for (const t of local.getTracks()) t.stop(); local = null; }
    $('#remote').srcObject = null;
    $('#local').srcObject = null;
    show($('#dial'), true);
    show($('#incoming'), false);
    show($('#in-call'), false);
    show($('#duration'), false);
    status(text || '');
    setState('idle');
  };
  const startMedia = async () => {
    const video = call.mode === 'video';
    local = await navigator.mediaDevices.getUserMedia({audio: true, video: video ? {width: 640, height: 360} : false});
    $('#local').srcObject = local;
    await s.publish(local);
  };
  const other = (c) => (c.caller === s.joined.identity ? (c.callee_name || c.callee) : (c.caller_name || c.caller));

  s.addEventListener('stream', (e) => { $('#remote').srcObject = e.detail.stream; });
  s.addEventListener('call.ringing', (e) => {
    call = e.detail.call;
    $('#incoming-who').textContent = `${other(call)} is calling you (${call.mode})`;
    show($('#incoming'), true);
    show($('#dial'), false);
    setState('ringing');
    ringer.start();
  });
  s.addEventListener('call.calling', (e) => {
    call = e.detail.call;
    status(`Calling ${other(call)}…`);
    show($('#dial'), false);
    show($('#in-call'), true);
    setState('calling');
  });
  s.addEventListener('call.accepted', async (e) => {
    call = e.detail.call;
    ringer.stop();
    show($('#incoming'), false);
    show($('#dial'), false);
    show($('#in-call'), true);
    show($('#duration'), true);
    status(`In a ${call.mode} call with ${other(call)}`);
    setState('active');
    clock.start(call.answered_at_ms || Date.now());
    try { await startMedia(); } catch (err) { status('No camera or microphone: ' + err.message); }
  });
  s.addEventListener('call.ended', (e) => {
    const c = e.detail.call;
    if (call && c.id !== call.id) return;
    const why = c.outcome === 'accepted' ? 'Call ended' : `Call ${c.outcome}` + (c.reason ? ` (${c.reason.replace(/_/g, ' ')})` : '');
    idle(why);
  });
  s.addEventListener('call.reconnecting', () => status('The other side is reconnecting…'));
  s.addEventListener('call.resumed', () => {
    status(call ? `In a ${call.mode} call with ${other(call)}` : '');
    if (local && !s.pub) s.publish(local);
  });
  s.addEventListener('state', (e) => {
    if (e.detail.state === 'reconnecting') status('Reconnecting…');
    if (e.detail.state === 'closed') { status('Disconnected' + (e.detail.error ? ': ' + e.detail.error : '')); setState('closed'); }
  });

  $('#dial').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const callee = $('#callee').value.trim();
    try {
      const reply = await s.invite(callee, ev.submitter.value);
      if (reply.type === 'call.ended') idle(`${callee} cannot take calls now (${reply.call.reason || reply.call.outcome})`);
    } catch (err) {
      status(err.message);
    }
  });
  $('#accept').addEventListener('click', () => { ringer.stop(); s.accept(call.id).catch((err) => idle(err.message)); });
  $('#decline').addEventListener('click', () => s.decline(call.id).catch(() => {}));
  $('#hangup').addEventListener('click', () => {
    if (!call) return;
    const done = call.state === 'ringing' && call.caller === s.joined.identity ? s.cancel(call.id) : s.hangup(call.id);
    done.catch(() => idle());
  });
  const toggle = (kind, btn) => {
    if (!local) return;
    const muted = btn.getAttribute('aria-pressed') !== 'true';
    for (const t of local.getTracks()) if (t.kind === kind) t.enabled = !muted;
    s.setMuted(kind, muted);
    btn.setAttribute('aria-pressed', String(muted));
    btn.textContent = toggleLabel(kind, muted);
  };
  $('#mic').addEventListener('click', () => toggle('audio', $('#mic')));
  $('#camera').addEventListener('click', () => toggle('video', $('#camera')));
  window.addEventListener('pagehide', () => s.leave());

  const joined = await s.connect();
  $('#me').textContent = `You are ${joined.name || joined.identity}`;
  idle('');
}

main().catch((e) => { status('Error: ' + e.message); setState('error'); });
