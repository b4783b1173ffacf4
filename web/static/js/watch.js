// The viewer page: the live video, chat, the viewer count, a reconnecting
// state (ours, or the host's: the live is interrupted), and the "host ended
// the live" screen, which stays until closed.
import {Session, tokenFor} from './talkrelay.js';
import {$, params, setState, show, duration, Clock, ChatPanel} from './ui.js';

const status = (text) => { $('#status').textContent = text; show($('#status'), !!text); };

async function main() {
  const tok = await tokenFor('viewer', params());
  const s = new Session({token: tok.token});
  window.talkrelay = s; // for the console and tests
  const clock = new Clock($('#duration'));
  const video = $('#video');
  new ChatPanel(s, {list: $('#chat-list'), form: $('#chat-form'), input: $('#chat-input'), toggle: $('#hide-chat')});

  const onLive = (live) => {
    setState('live');
    status('');
    show($('#live-badge'), true);
    show($('#duration'), true);
    show($('#ended'), false);
    clock.start(live.started_at_ms);
  };
  const waiting = () => { setState('waiting'); status('Waiting for the host to go live…'); };
  // The live goes on but the host's media stopped: its connection dropped,
  // or (in a cluster) the server it published through is gone.
  const interrupted = (reason) => {
    setState('interrupted');
    status(reason === 'origin_lost' ? 'Lost the host\'s connection. Waiting for the host to come back…' : 'The host is reconnecting…');
  };
  const tellSize = () => s.send({type: 'video_size', width: video.clientWidth, height: video.clientHeight});

  s.addEventListener('stream', (e) => {
    if (video.srcObject !== e.detail.stream) video.srcObject = e.detail.stream;
    video.play().catch(() => {});
  });
  s.addEventListener('viewer_count', (e) => { $('#viewer-count').textContent = e.detail.count; });
  s.addEventListener('live_started', (e) => onLive(e.detail.live));
  s.addEventListener('live_interrupted', (e) => interrupted(e.detail.reason));
  s.addEventListener('live_resumed', (e) => onLive(e.detail.live));
  s.addEventListener('live_ended', (e) => {
    const live = e.detail.live;
    clock.stop();
    show($('#live-badge'), false);
    $('#ended-info').textContent = `${live.host_name || live.host}'s live talk lasted ${duration(live.duration_ms || 0)}.`;
    show($('#ended'), true);
    setState('ended');
  });
  s.addEventListener('track_muted', (e) => {
    const m = e.detail;
    $('#host-muted').textContent = m.muted ? `The host turned the ${m.kind === 'audio' ? 'microphone' : 'camera'} off` : '';
    show($('#host-muted'), m.muted);
  });
  s.addEventListener('state', (e) => {
    const st = e.detail.state;
    show($('#reconnecting'), st === 'reconnecting');
    if (st === 'reconnecting') document.body.dataset.connection = 'reconnecting';
    if (st === 'connected') document.body.dataset.connection = 'connected';
    if (st === 'closed') {
      document.body.dataset.connection = 'closed';
      status('Disconnected' + (e.detail.error ? ': ' + e.detail.error : ''));
    }
  });
  s.addEventListener('resumed', (e) => { if (!e.detail.joined.live && document.body.dataset.state === 'live') waiting(); });
  s.addEventListener('rejoined', (e) => { if (e.detail.live) onLive(e.detail.live); });

  $('#unmute').addEventListener('click', () => {
    video.muted = !video.muted;
    video.play().catch(() => {});
    $('#unmute').textContent = video.muted ? 'Sound off: tap to unmute' : 'Sound on';
  });
  $('#leave').addEventListener('click', () => { s.leave(); location.href = '/'; });
  $('#close').addEventListener('click', () => s.leave());
  window.addEventListener('pagehide', () => s.leave());
  window.addEventListener('resize', tellSize);

  const joined = await s.connect();
  document.body.dataset.connection = 'connected';
  $('#viewer-count').textContent = joined.viewer_count;
  tellSize();
  if (joined.live) onLive(joined.live);
  else waiting();
  if (joined.live && joined.live.state === 'interrupted') interrupted('');
}

main().catch((e) => { status('Error: ' + e.message); setState('error'); });
