// The host page: camera and mic preview, go live, mic and camera toggles,
// hide chat, the viewer count, the running duration, end the live.
import {Session, tokenFor} from './talkrelay.js';
import {$, params, setState, show, toggleLabel, duration, Clock, ChatPanel} from './ui.js';

const status = (text) => { $('#status').textContent = text; show($('#status'), !!text); };

async function main() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 640, height: 360}});
  } catch (e) {
    status('No camera or microphone: ' + e.message);
    setState('error');
    return;
  }
  $('#preview').srcObject = stream;
  const tok = await tokenFor('host', params());
  const s = new Session({token: tok.token});
  window.talkrelay = s; // for the console and tests
  const clock = new Clock($('#duration'));
  new ChatPanel(s, {list: $('#chat-list'), form: $('#chat-form'), input: $('#chat-input'), toggle: $('#hide-chat')});

  const onLive = (live) => {
    setState('live');
    status('');
    show($('#live-badge'), true);
    show($('#duration'), true);
    show($('#end-live'), true);
    show($('#go-live'), false);
    clock.start(live.started_at_ms);
  };
  s.addEventListener('viewer_count', (e) => { $('#viewer-count').textContent = e.detail.count; });
  s.addEventListener('live_started', (e) => onLive(e.detail.live));
  s.addEventListener('live_ended', (e) => {
    const live = e.detail.live;
    clock.stop();
    show($('#live-badge'), false);
    show($('#end-live'), false);
    $('#ended-info').textContent = `It lasted ${duration(live.duration_ms || 0)}; ${live.peak_viewers || 0} watched at most.`;
    show($('#ended'), true);
    setState('ended');
  });
  s.addEventListener('track_muted', (e) => {
    const btn = e.detail.kind === 'audio' ? $('#mic') : $('#camera');
    btn.setAttribute('aria-pressed', String(e.detail.muted));
    btn.textContent = toggleLabel(e.detail.kind, e.detail.muted);
  });
  s.addEventListener('state', (e) => {
    if (e.detail.state === 'reconnecting') status('Reconnecting… your live goes on for a while.');
    if (e.detail.state === 'connected') status('');
    if (e.detail.state === 'closed') { status('Disconnected' + (e.detail.error ? ': ' + e.detail.error : '')); setState('closed'); }
  });
  // A session that could not be resumed is new: publish again if our live runs.
  s.addEventListener('rejoined', (j) => { if (j.detail.live) s.publish(stream); });

  const joined = await s.connect();
  $('#viewer-count').textContent = joined.viewer_count;
  if (joined.live) { // back to our running live
    await s.publish(stream);
    onLive(joined.live);
  } else {
    status('Ready. Go live when you are.');
    setState('ready');
  }
  $('#go-live').disabled = false;

  $('#go-live').addEventListener('click', async () => {
    $('#go-live').disabled = true;
    status('Going live…');
    setState('publishing');
    try {
      await s.publish(stream);
    } catch (e) {
      status('Could not go live: ' + e.message);
      $('#go-live').disabled = false;
    }
  });
  const toggle = (kind, btn) => {
    const muted = btn.getAttribute('aria-pressed') !== 'true';
    for (const t of stream.getTracks()) if (t.kind === kind) t.enabled = !muted;
    s.setMuted(kind, muted);
    btn.setAttribute('aria-pressed', String(muted));
    btn.textContent = toggleLabel(kind, muted);
  };
  $('#mic').addEventListener('click', () => toggle('audio', $('#mic')));
  $('#camera').addEventListener('click', () => toggle('video', $('#camera')));
  const confirmEnd = () => $('#confirm-end').showModal();
  $('#end-live').addEventListener('click', confirmEnd);
  $('#duration').addEventListener('click', confirmEnd);
  $('#confirm-no').addEventListener('click', () => $('#confirm-end').close());
  $('#confirm-yes').addEventListener('click', () => {
    $('#confirm-end').close();
    s.endLive();
  });
  $('#again').addEventListener('click', async () => {
    show($('#ended'), false);
    show($('#go-live'), true);
    show($('#duration'), false);
    $('#go-live').disabled = false;
    setState('ready');
    status('Ready. Go live when you are.');
  });
  window.addEventListener('pagehide', () => s.leave());
}

main().catch((e) => { status('Error: ' + e.message); setState('error'); });
