// Watch this server's WHEP endpoint, as any WHEP player would. While the room
// is not live yet (409) it waits and tries again.
import {whepPlay, tokenFor} from './talkrelay.js';
import {$, params, setState, show} from './ui.js';

const status = (text) => { $('#status').textContent = text; show($('#status'), !!text); };

async function main() {
  const q = params();
  const room = q.get('room') || 'demo';
  const tok = await tokenFor('viewer', q);
  const video = $('#video');
  const url = new URL('/whep/' + encodeURIComponent(room), location.href).toString();
  const session = await whepPlay(url, tok.token, {
    onTrack: (stream) => { video.srcObject = stream; video.play().catch(() => {}); },
    onWaiting: () => { status('Waiting for the host to go live…'); setState('waiting'); },
  });
  window.whep = session; // for the console and tests
  status('');
  setState('playing');
  // The server closes the session when the live ends: its DTLS transport
  // closes (a WHEP player hears nothing else).
  const ended = () => { show($('#ended'), true); setState('ended'); };
  session.pc.addEventListener('connectionstatechange', () => {
    const st = session.pc.connectionState;
    if (st === 'failed' || st === 'closed') ended();
  });
  const dtls = session.pc.getReceivers().map((r) => r.transport).find(Boolean);
  if (dtls) dtls.addEventListener('statechange', () => { if (dtls.state === 'closed' || dtls.state === 'failed') ended(); });
  $('#unmute').addEventListener('click', () => {
    video.muted = !video.muted;
    video.play().catch(() => {});
    $('#unmute').textContent = video.muted ? 'Sound off: tap to unmute' : 'Sound on';
  });
  window.addEventListener('pagehide', () => session.stop());
}

main().catch((e) => { status('Error: ' + e.message); setState('error'); });
