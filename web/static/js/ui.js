// ui.js — small helpers the pages share: elements, the chat panel, the live
// duration, page state (document.body.dataset.state, which tests read too).

export const $ = (sel) => document.querySelector(sel);

export function params() { return new URLSearchParams(location.search); }

export function setState(state) { document.body.dataset.state = state; }

export function show(el, on) { el.hidden = !on; }

// duration formats milliseconds as m:ss or h:mm:ss.
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return (h ? h + ':' : '') + mm + ':' + String(sec).padStart(2, '0');
}

// Clock shows the time since a start in an element, every second.
export class Clock {
  constructor(el) { this.el = el; this.timer = 0; }
  start(startedAtMs) {
    this.stop();
    const tick = () => { this.el.textContent = duration(Date.now() - startedAtMs); };
    tick();
    this.timer = setInterval(tick, 1000);
  }
  stop() { clearInterval(this.timer); }
}

// ChatPanel shows a session's chat and sends what is typed; hide-chat turns
// the chat off for this participant only (the server stops sending it).
export class ChatPanel {
  constructor(session, {list, form, input, toggle}) {
    this.session = session;
    this.list = list;
    this.bySeq = new Map();
    this.hidden = false;
    session.addEventListener('chat', (e) => this.add(e.detail.messages));
    session.addEventListener('chatnotice', (e) => this.notice(e.detail));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      try {
        await session.sendChat(text);
        input.value = '';
      } catch (err) {
        this.system(err.message);
      }
    });
    if (toggle) {
      toggle.addEventListener('click', () => {
        this.hidden = !this.hidden;
        session.hideChat(this.hidden);
        list.parentElement.classList.toggle('chat-hidden', this.hidden);
        toggle.textContent = this.hidden ? 'Show chat' : 'Hide chat';
        toggle.setAttribute('aria-pressed', String(this.hidden));
      });
    }
  }

  add(messages) {
    for (const m of messages) {
      if (this.bySeq.has(m.seq)) continue;
      const li = document.createElement('li');
      li.dataset.seq = m.seq;
      if (m.kind === 'system') {
        li.className = 'system';
        li.textContent = m.text;
      } else {
        const who = document.createElement('b');
        who.textContent = m.name || m.from;
        li.append(who, ' ', document.createTextNode(m.text));
      }
      this.bySeq.set(m.seq, li);
      this.list.append(li);
    }
    this.list.scrollTop = this.list.scrollHeight;
  }

  notice(m) {
    if (m.type === 'deleted' && this.bySeq.has(m.seq)) {
      this.bySeq.get(m.seq).remove();
      this.bySeq.delete(m.seq);
    } else if (m.type === 'cleared') {
      this.list.replaceChildren();
      this.bySeq.clear();
    } else if (m.type === 'error' && m.error) {
      this.system(m.error.message);
    } else if (m.type === 'slow_mode') {
      this.system(m.seconds ? `Slow mode: one message every ${m.seconds} s` : 'Slow mode is off');
    }
  }

  system(text) {
    const li = document.createElement('li');
    li.className = 'system';
    li.textContent = text;
    this.list.append(li);
  }
}

// toggleLabel names what the mic or camera button does next.
export function toggleLabel(kind, muted) {
  if (kind === 'audio') return muted ? 'Unmute mic' : 'Mute mic';
  return muted ? 'Start camera' : 'Stop camera';
}
