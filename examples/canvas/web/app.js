// The canvas client: board snapshot + live binary updates, zoom and pan, palette, cooldown.
// Protocol: GET /api/config, POST /api/session, GET /api/board (X-Board-Seq), PUT /api/pixel, /ws frames
// of 9-byte records (seq u32, x u16, y u16, color u8, little-endian) after a 3-byte header.
(() => {
  'use strict';
  const $ = id => document.getElementById(id);
  const view = $('view');
  const ctx = view.getContext('2d');
  const state = { config: null, token: null, board: null, image: null, pixelSeq: null, boardSeq: -1, buffered: [], color: 3,
    selected: null, scale: 4, offsetX: 0, offsetY: 0, cooldownUntil: 0, dirty: true, ws: null, retries: 0 };
  let offscreen, offctx;

  async function main() {
    state.config = await (await untilAwake(() => fetch('/api/config'))).json();
    const { width, height, palette } = state.config;
    offscreen = document.createElement('canvas');
    offscreen.width = width;
    offscreen.height = height;
    offctx = offscreen.getContext('2d');
    state.image = offctx.createImageData(width, height);
    state.rgb = palette.map(hex => [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16)));
    state.pixelSeq = new Uint32Array(width * height);
    buildPalette(palette);
    fitView();
    bindInput();
    await session();
    connect();
    requestAnimationFrame(draw);
    setInterval(showCooldown, 250);
  }

  async function session() {
    state.token = localStorage.getItem('canvas-token');
    if (!state.token) {
      const res = await fetch('/api/session', { method: 'POST' });
      if (!res.ok) { return say((await res.json()).message); }
      state.token = (await res.json()).token;
      localStorage.setItem('canvas-token', state.token);
    }
  }

  // Open the stream first, then load the board: updates that arrive meanwhile are buffered and those
  // newer than the board's sequence number applied on top, so nothing falls between the two.
  function connect() {
    setStatus('connecting', 'connecting…');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    ws.binaryType = 'arraybuffer';
    state.ws = ws;
    state.boardSeq = -1;
    state.buffered = [];
    let opened = false;
    ws.onopen = () => { opened = true; state.retries = 0; loadBoard(); };
    ws.onmessage = ev => {
      if (typeof ev.data === 'string') { return; }
      const records = decode(ev.data);
      if (state.boardSeq < 0) { state.buffered.push(...records); } else { records.forEach(apply); }
    };
    ws.onclose = async ev => {
      setStatus('offline', ev.code === 1012 ? 'server restarting, reconnecting…' : 'offline, reconnecting…');
      // Exponential backoff with jitter so a restart's clients do not all return at once.
      const delay = Math.min(10000, 500 * 2 ** state.retries++) * (0.5 + Math.random());
      if (!opened && await isStarting()) {
        setStatus('starting', `starting… (the server wakes on demand; retrying in ${Math.ceil(delay / 1000)} s)`);
      }
      setTimeout(connect, delay);
    };
  }

  // A service scaled to zero answers 503 from its load balancer until its first task is up, which takes
  // a few minutes: say so instead of "offline", and keep retrying.
  async function isStarting() {
    try { return (await fetch('/ws', { cache: 'no-store' })).status === 503; } catch { return false; }
  }

  async function untilAwake(request) {
    for (let attempt = 0; ; attempt++) {
      const res = await request();
      if (res.status !== 503) { return res; }
      const delay = Math.min(10000, 1000 * 2 ** attempt);
      setStatus('starting', `starting… (the server wakes on demand; retrying in ${Math.ceil(delay / 1000)} s)`);
      await new Promise(resolve => setTimeout(resolve, delay));
    }
  }

  async function loadBoard() {
    const res = await fetch('/api/board', { cache: 'no-cache' });
    if (!res.ok) { return say('the board is not available; retrying'), setTimeout(loadBoard, 1000); }
    const seq = Number(res.headers.get('x-board-seq'));
    const bytes = new Uint8Array(await res.arrayBuffer());
    const { width, height } = state.config;
    const data = state.image.data;
    for (let i = 0; i < width * height; i++) {
      const b = bytes[i >> 1];
      const c = state.rgb[i & 1 ? b & 15 : b >> 4];
      data[i * 4] = c[0]; data[i * 4 + 1] = c[1]; data[i * 4 + 2] = c[2]; data[i * 4 + 3] = 255;
    }
    state.pixelSeq.fill(seq);
    state.boardSeq = seq;
    state.buffered.splice(0).forEach(apply);
    state.dirty = true;
    setStatus('live', 'live');
  }

  function decode(buffer) {
    const dv = new DataView(buffer);
    if (dv.getUint8(0) !== 1) { return []; }
    const count = dv.getUint16(1, true);
    const out = [];
    for (let i = 0, o = 3; i < count; i++, o += 9) {
      out.push({ seq: dv.getUint32(o, true), x: dv.getUint16(o + 4, true), y: dv.getUint16(o + 6, true), color: dv.getUint8(o + 8) });
    }
    return out;
  }

  function apply(u) {
    const { width, height } = state.config;
    if (u.x >= width || u.y >= height) { return; }
    const i = u.y * width + u.x;
    if (u.seq <= state.pixelSeq[i]) { return; }
    state.pixelSeq[i] = u.seq;
    const c = state.rgb[u.color];
    const d = state.image.data;
    d[i * 4] = c[0]; d[i * 4 + 1] = c[1]; d[i * 4 + 2] = c[2];
    state.dirty = true;
  }

  function draw() {
    if (state.dirty) {
      state.dirty = false;
      offctx.putImageData(state.image, 0, 0);
      view.width = view.clientWidth * devicePixelRatio;
      view.height = view.clientHeight * devicePixelRatio;
      ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
      ctx.fillStyle = '#1d1d1f';
      ctx.fillRect(0, 0, view.clientWidth, view.clientHeight);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(offscreen, state.offsetX, state.offsetY, state.config.width * state.scale, state.config.height * state.scale);
      if (state.selected) {
        ctx.strokeStyle = '#4da3ff';
        ctx.lineWidth = 2;
        ctx.strokeRect(state.offsetX + state.selected.x * state.scale, state.offsetY + state.selected.y * state.scale, state.scale, state.scale);
      }
    }
    requestAnimationFrame(draw);
  }

  function fitView() {
    const { width, height } = state.config;
    state.scale = Math.max(1, Math.floor(Math.min(view.clientWidth / width, view.clientHeight / height)));
    state.offsetX = (view.clientWidth - width * state.scale) / 2;
    state.offsetY = (view.clientHeight - height * state.scale) / 2;
    state.dirty = true;
  }

  function boardPoint(ev) {
    const r = view.getBoundingClientRect();
    return { x: Math.floor((ev.clientX - r.left - state.offsetX) / state.scale), y: Math.floor((ev.clientY - r.top - state.offsetY) / state.scale) };
  }

  function bindInput() {
    let drag = null;
    view.addEventListener('pointerdown', ev => { drag = { x: ev.clientX, y: ev.clientY, ox: state.offsetX, oy: state.offsetY, moved: false }; view.setPointerCapture(ev.pointerId); });
    view.addEventListener('pointermove', ev => {
      const p = boardPoint(ev);
      $('coords').textContent = inside(p) ? `(${p.x}, ${p.y})` : '';
      if (!drag) { return; }
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; }
      state.offsetX = drag.ox + dx; state.offsetY = drag.oy + dy; state.dirty = true;
    });
    view.addEventListener('pointerup', ev => {
      if (drag && !drag.moved) {
        const p = boardPoint(ev);
        if (inside(p)) { state.selected = p; state.dirty = true; $('place').disabled = false; }
      }
      drag = null;
    });
    view.addEventListener('wheel', ev => {
      ev.preventDefault();
      const r = view.getBoundingClientRect();
      const mx = ev.clientX - r.left, my = ev.clientY - r.top;
      const next = Math.min(64, Math.max(1, state.scale * (ev.deltaY < 0 ? 1.25 : 0.8)));
      state.offsetX = mx - ((mx - state.offsetX) * next) / state.scale;
      state.offsetY = my - ((my - state.offsetY) * next) / state.scale;
      state.scale = next; state.dirty = true;
    }, { passive: false });
    window.addEventListener('resize', () => { state.dirty = true; });
    $('place').addEventListener('click', place);
  }

  function inside(p) { return p.x >= 0 && p.y >= 0 && p.x < state.config.width && p.y < state.config.height; }

  async function place() {
    if (!state.selected) { return; }
    const body = JSON.stringify({ x: state.selected.x, y: state.selected.y, color: state.color });
    const res = await fetch('/api/pixel', { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${state.token}` }, body });
    const reply = await res.json().catch(() => ({}));
    if (res.ok) {
      state.cooldownUntil = reply.nextPlacementAt;
      say('');
      apply({ ...state.selected, color: state.color, seq: reply.seq });
    } else if (res.status === 429) {
      state.cooldownUntil = Date.now() + Number(res.headers.get('retry-after') || 1) * 1000;
      say(reply.message);
    } else if (res.status === 401) {
      localStorage.removeItem('canvas-token');
      await session();
      say('your session was renewed; place again');
    } else {
      say(reply.message || `placement failed (${res.status})`);
    }
    showCooldown();
  }

  function showCooldown() {
    const left = Math.ceil((state.cooldownUntil - Date.now()) / 1000);
    $('cooldown').textContent = left > 0 ? `next pixel in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` : 'ready to place';
    $('place').disabled = left > 0 || !state.selected;
  }

  function buildPalette(palette) {
    palette.forEach((hex, i) => {
      const b = document.createElement('button');
      b.style.background = hex;
      b.title = hex;
      b.setAttribute('role', 'radio');
      b.setAttribute('aria-checked', String(i === state.color));
      b.dataset.color = String(i);
      b.addEventListener('click', () => {
        state.color = i;
        document.querySelectorAll('#palette button').forEach(x => x.setAttribute('aria-checked', String(x === b)));
      });
      $('palette').appendChild(b);
    });
  }

  function setStatus(s, text) { const el = $('status'); el.dataset.state = s; el.textContent = text; }
  function say(text) { $('message').textContent = text || ''; }

  // For tests and the console: the colour index the page currently shows at (x, y).
  window.canvasApp = {
    colorAt(x, y) {
      const i = (y * state.config.width + x) * 4, d = state.image.data;
      return state.rgb.findIndex(c => c[0] === d[i] && c[1] === d[i + 1] && c[2] === d[i + 2]);
    },
    get boardSeq() { return state.boardSeq; },
  };

  main().catch(err => { setStatus('offline', 'failed to start'); say(String(err)); });
})();
