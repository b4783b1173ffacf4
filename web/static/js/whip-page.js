// Publish the camera to this server's WHIP endpoint, as any WHIP encoder would.
import {whipPublish, tokenFor} from './talkrelay.js';
import {$, params, setState, show} from './ui.js';

const status = (text) => { $('#status').textContent = text; show($('#status'), !!text); };

async function main() {
  const q = params();
  const room = q.get('room') || 'demo';
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 640, height: 360}});
  $('#preview').srcObject = stream;
  const tok = await tokenFor('host', q);
  let session = null;
  const start = async () => {
    $('#start').disabled = true;
    status('Publishing…');
    try {
      session = await whipPublish(new URL('/whip/' + encodeURIComponent(room), location.href).toString(), tok.token, stream);
      window.whip = session; // for the console and tests
      session.pc.addEventListener('connectionstatechange', () => {
        const st = session.pc.connectionState;
        if (st === 'connected') { status(''); setState('publishing'); }
        if (st === 'failed' || st === 'closed') { status('The connection ended'); setState('ended'); }
      });
      show($('#start'), false);
      show($('#stop'), true);
    } catch (e) {
      status('WHIP failed: ' + e.message);
      $('#start').disabled = false;
    }
  };
  $('#start').addEventListener('click', start);
  $('#stop').addEventListener('click', async () => {
    await session.stop();
    show($('#stop'), false);
    status('Stopped: the live has ended');
    setState('ended');
  });
  $('#start').disabled = false;
  status('Ready');
  setState('ready');
  if (q.get('autostart')) start();
}

main().catch((e) => { status('Error: ' + e.message); setState('error'); });
