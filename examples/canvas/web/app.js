// The canvas client: board snapshot + live binary updates, zoom and pan (mouse, touch pinch, keyboard),
// palette, cooldown (read back from the server at start), pixel history and links to a place and zoom.
// Protocol: GET /api/config, POST /api/session, GET /api/board (X-Board-Seq), PUT /api/pixel, /ws frames
// of 9-byte records (seq u32, x u16, y u16, color u8, little-endian) after a 3-byte header; the timelapse
// replays GET /api/history pages (the same frames) onto an empty board of its own.
(() => {
  'use strict';
  const $ = id => document.getElementById(id);
  const view = $('view');
  const ctx = view.getContext('2d');
  const state = { config: null, token: null, board: null, image: null, pixelSeq: null, boardSeq: -1, buffered: [], color: 3,
    selected: null, scale: 4, offsetX: 0, offsetY: 0, cooldownUntil: 0, dirty: true, ws: null, retries: 0,
    received: 0, bufferDrops: 0, boardLoads: 0, timelapse: null };
  let offscreen, offctx;
  const MIN_SCALE = 0.25, MAX_SCALE = 64; // 64 screen pixels per board pixel: single pixels are easy to hit
  // Live records kept while the board loads. Past this the buffer is dropped: the loaded board is then
  // followed by everything after its sequence from /api/updates (or a reload when that is too far back).
  const MAX_BUFFERED = 3000;
  const HISTORY_PAGE = 5000; // placements per GET /api/history (the same for everyone, so the CDN caches them)

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
    readLink();
    bindInput();
    await session();
    await readCooldown();
    connect();
    requestAnimationFrame(draw);
    setInterval(showCooldown, 250);
  }

  // While the board loads, live records wait here, at most MAX_BUFFERED of them.
  function buffer(records) {
    if (state.buffered.length + records.length > MAX_BUFFERED) {
      state.buffered = [];
      state.bufferDrops++;
    }
    for (const u of records.slice(-MAX_BUFFERED)) { state.buffered.push(u); }
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

  // The cooldown is the server's: ask when the next placement is allowed, so a reload does not forget it.
  async function readCooldown() {
    if (!state.token) { return; }
    try {
      const res = await fetch('/api/cooldown', { headers: { authorization: `Bearer ${state.token}` }, cache: 'no-store' });
      if (res.status === 401) {
        localStorage.removeItem('canvas-token');
        return session();
      }
      if (res.ok) { state.cooldownUntil = Date.now() + Math.max(0, (await res.json()).nextPlacementAt - Date.now()); }
    } catch { /* the placement answer will say so */ }
    showCooldown();
  }

  // Open the stream first, then load the board: updates that arrive meanwhile are buffered and those
  // newer than the board's sequence number applied on top. A cached board can be older than the moment
  // the stream opened, so loadBoard also asks /api/updates for everything after the board's sequence;
  // a gap in the stream's sequence that stays open for a second is asked for the same way.
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
      state.received += records.length;
      if (state.boardSeq < 0) { buffer(records); } else { records.forEach(receive); }
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
    state.boardLoads++;
    let res, bytes;
    try {
      res = await fetch('/api/board', { cache: 'no-cache' });
      if (res.ok) { bytes = new Uint8Array(await res.arrayBuffer()); }
    } catch { res = undefined; }
    const unavailable = 'the board is not available; retrying';
    if (!res || !res.ok || !bytes) { return say(unavailable), setTimeout(loadBoard, 1000); }
    if ($('message').textContent === unavailable) { say(''); }
    const seq = Number(res.headers.get('x-board-seq'));
    const { width, height } = state.config;
    const data = state.image.data;
    for (let i = 0; i < width * height; i++) {
      const b = bytes[i >> 1];
      const c = state.rgb[i & 1 ? b & 15 : b >> 4];
      data[i * 4] = c[0]; data[i * 4 + 1] = c[1]; data[i * 4 + 2] = c[2]; data[i * 4 + 3] = 255;
    }
    state.pixelSeq.fill(seq);
    state.boardSeq = seq;
    state.lastSeq = seq;
    state.missing = new Set();
    const early = state.buffered.splice(0);
    early.forEach(apply);
    state.dirty = true;
    setStatus('live', 'live');
    await catchUp(seq);
    for (const u of early) { state.lastSeq = Math.max(state.lastSeq, u.seq); }
  }

  // Everything stored after `after`, from the server's recent updates; 410 means they are no longer
  // kept, so the whole board is loaded again.
  async function catchUp(after) {
    let res;
    try { res = await fetch(`/api/updates?after=${after}`, { cache: 'no-store' }); } catch { res = undefined; }
    if (res && res.status === 410) { return loadBoard(); }
    if (!res || !res.ok) { return void setTimeout(() => catchUp(after), 1000); }
    for (const u of decode(await res.arrayBuffer())) {
      state.missing.delete(u.seq);
      state.lastSeq = Math.max(state.lastSeq, u.seq);
      apply(u);
    }
  }

  // A live record: a sequence past the next expected one leaves a gap (a frame lost, another server's
  // records still on their way, or a placement that was taken back); gaps still open a second later are
  // asked for once.
  function receive(u) {
    state.missing.delete(u.seq);
    if (u.seq > state.lastSeq + 1) {
      if (u.seq - state.lastSeq > 1000) { state.missing.clear(); state.boardSeq = -1; state.buffered = []; loadBoard(); return; }
      for (let s = state.lastSeq + 1; s < u.seq; s++) { state.missing.add(s); }
      state.gapTimer ??= setTimeout(() => {
        state.gapTimer = undefined;
        if (state.missing.size === 0) { return; }
        const after = Math.min(...state.missing) - 1;
        state.missing.clear();
        catchUp(after);
      }, 1000);
    }
    state.lastSeq = Math.max(state.lastSeq, u.seq);
    apply(u);
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
    paint(state.image, i, u.color);
    state.dirty = true;
  }

  function paint(image, i, color) {
    const c = state.rgb[color];
    if (!c) { return; }
    const d = image.data;
    d[i * 4] = c[0]; d[i * 4 + 1] = c[1]; d[i * 4 + 2] = c[2]; d[i * 4 + 3] = 255;
  }

  // The timelapse: the history from an empty board, at the chosen placements a second, on an image of its
  // own. The live board keeps taking updates meanwhile, so "Live" shows it as it is now.
  function startTimelapse() {
    const { width, height } = state.config;
    const image = offctx.createImageData(width, height);
    for (let i = 0; i < width * height; i++) { paint(image, i, 0); }
    const t = { image, queue: [], next: 0, after: 0, fetching: false, ended: false, paused: false, done: false,
      played: 0, seq: 0, carry: 0, last: performance.now() };
    state.timelapse = t;
    fetchHistory(t);
    showTimelapse();
  }

  async function fetchHistory(t) {
    if (t.fetching || t.ended) { return; }
    t.fetching = true;
    let records;
    try {
      const res = await fetch(`/api/history?after=${t.after}&limit=${HISTORY_PAGE}`);
      if (res.ok) { records = decode(await res.arrayBuffer()); }
    } catch { records = undefined; }
    if (state.timelapse !== t) { return; }
    // Still "fetching" while it waits to try again, so the frames do not ask at once.
    if (!records) { setTimeout(() => { t.fetching = false; fetchHistory(t); }, 1000); return; }
    t.fetching = false;
    if (records.length === 0) { t.ended = true; } else {
      for (const u of records) { t.queue.push(u); }
      t.after = records[records.length - 1].seq;
    }
    showTimelapse();
  }

  // Called every frame: plays what the elapsed time and the speed allow, and keeps a page ahead.
  function stepTimelapse(now) {
    const t = state.timelapse;
    if (!t) { return; }
    const elapsed = Math.min(250, now - t.last);
    t.last = now;
    if (t.paused || t.done) { return; }
    const before = t.played;
    t.carry += Number($('timelapse-speed').value) * elapsed / 1000;
    let n = Math.floor(t.carry);
    t.carry -= n;
    const { width, height } = state.config;
    for (; n > 0 && t.next < t.queue.length; n--) {
      const u = t.queue[t.next++];
      if (u.x < width && u.y < height) { paint(t.image, u.y * width + u.x, u.color); }
      t.played++;
      t.seq = u.seq;
      state.dirty = true;
    }
    if (t.next === t.queue.length) { t.carry = 0; }
    if (t.next > HISTORY_PAGE) { t.queue = t.queue.slice(t.next); t.next = 0; }
    if (t.queue.length - t.next < HISTORY_PAGE) { fetchHistory(t); }
    if (t.ended && t.next === t.queue.length) { t.done = true; }
    if (t.played !== before || t.done) { showTimelapse(); }
  }

  function pauseTimelapse() {
    const t = state.timelapse;
    if (t && !t.done) { t.paused = !t.paused; showTimelapse(); }
  }

  function stopTimelapse() {
    state.timelapse = null;
    state.dirty = true;
    showTimelapse();
  }

  function showTimelapse() {
    const t = state.timelapse;
    const mode = !t ? 'live' : t.done ? 'done' : t.paused ? 'paused' : 'playing';
    document.body.dataset.mode = mode === 'live' ? 'live' : 'timelapse';
    $('timelapse').hidden = Boolean(t);
    $('timelapse-pause').hidden = !t;
    $('timelapse-pause').disabled = mode === 'done';
    $('timelapse-pause').textContent = mode === 'paused' ? 'Resume' : 'Pause';
    $('timelapse-stop').hidden = !t;
    const progress = $('timelapse-progress');
    progress.dataset.state = mode;
    progress.textContent = !t ? '' : `timelapse ${mode === 'done' ? 'at the end' : mode}: ${t.played.toLocaleString()} placements`;
    showCooldown();
  }

  function draw(now) {
    stepTimelapse(now ?? performance.now());
    if (state.dirty) {
      state.dirty = false;
      offctx.putImageData(state.timelapse ? state.timelapse.image : state.image, 0, 0);
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
      scheduleLink();
    }
    requestAnimationFrame(draw);
  }

  function fitView() {
    const { width, height } = state.config;
    const fit = Math.min(view.clientWidth / width, view.clientHeight / height);
    state.scale = clamp(fit >= 1 ? Math.floor(fit) : fit, MIN_SCALE, MAX_SCALE);
    state.offsetX = (view.clientWidth - width * state.scale) / 2;
    state.offsetY = (view.clientHeight - height * state.scale) / 2;
    state.dirty = true;
  }

  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

  // The board pixel under a point of the view (view coordinates, CSS pixels).
  function pixelAt(vx, vy) {
    return { x: Math.floor((vx - state.offsetX) / state.scale), y: Math.floor((vy - state.offsetY) / state.scale) };
  }

  function viewPoint(ev) {
    const r = view.getBoundingClientRect();
    return { x: ev.clientX - r.left, y: ev.clientY - r.top };
  }

  function boardPoint(ev) { const v = viewPoint(ev); return pixelAt(v.x, v.y); }

  // Zoom to `next` keeping the board point under (vx, vy) where it is.
  function zoomAt(vx, vy, next) {
    next = clamp(next, MIN_SCALE, MAX_SCALE);
    state.offsetX = vx - ((vx - state.offsetX) * next) / state.scale;
    state.offsetY = vy - ((vy - state.offsetY) * next) / state.scale;
    state.scale = next;
    state.dirty = true;
  }

  // Centre the view on board pixel (x, y).
  function centerOn(x, y) {
    state.offsetX = view.clientWidth / 2 - (x + 0.5) * state.scale;
    state.offsetY = view.clientHeight / 2 - (y + 0.5) * state.scale;
    state.dirty = true;
  }

  function select(p) {
    state.selected = p;
    state.dirty = true;
    showCooldown();
    showInfo(p);
  }

  function bindInput() {
    // Pointer events cover mouse, pen and touch: one pointer drags (or, without moving, selects), two pinch.
    const pointers = new Map();
    let drag = null, pinch = null;
    const pinchState = () => {
      const [a, b] = [...pointers.values()];
      return { mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }, dist: Math.max(1, Math.hypot(a.x - b.x, a.y - b.y)) };
    };
    const startPinch = () => { const p = pinchState(); pinch = { ...p, scale: state.scale, ox: state.offsetX, oy: state.offsetY }; };
    view.addEventListener('pointerdown', ev => {
      // A primary pointer starts a new gesture: forget pointers whose end we never heard of.
      if (ev.isPrimary) { pointers.clear(); pinch = null; }
      view.setPointerCapture(ev.pointerId);
      pointers.set(ev.pointerId, viewPoint(ev));
      if (pointers.size === 1) {
        drag = { x: ev.clientX, y: ev.clientY, ox: state.offsetX, oy: state.offsetY, moved: false };
      } else if (pointers.size === 2) {
        drag = null;
        startPinch();
      }
    });
    view.addEventListener('pointermove', ev => {
      const p = boardPoint(ev);
      $('coords').textContent = inside(p) ? `(${p.x}, ${p.y})` : '';
      if (!pointers.has(ev.pointerId)) { return; }
      pointers.set(ev.pointerId, viewPoint(ev));
      if (pinch && pointers.size === 2) {
        // The board point under the first midpoint follows the fingers' midpoint; the scale follows their distance.
        const now = pinchState();
        const next = clamp(pinch.scale * now.dist / pinch.dist, MIN_SCALE, MAX_SCALE);
        state.offsetX = now.mid.x - ((pinch.mid.x - pinch.ox) * next) / pinch.scale;
        state.offsetY = now.mid.y - ((pinch.mid.y - pinch.oy) * next) / pinch.scale;
        state.scale = next;
        state.dirty = true;
        return;
      }
      if (!drag) { return; }
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; }
      state.offsetX = drag.ox + dx; state.offsetY = drag.oy + dy; state.dirty = true;
    });
    const end = ev => {
      if (!pointers.delete(ev.pointerId)) { return; }
      if (ev.type === 'pointerup' && drag && !drag.moved && !pinch) {
        const p = boardPoint(ev);
        if (inside(p)) { select(p); }
      }
      if (pointers.size < 2) { pinch = null; }
      // After a pinch the remaining finger drags on from where it is, without selecting.
      if (pointers.size === 1) { const [q] = pointers.values(); drag = { x: q.x + view.getBoundingClientRect().left, y: q.y + view.getBoundingClientRect().top, ox: state.offsetX, oy: state.offsetY, moved: true }; }
      if (pointers.size === 0) { drag = null; }
    };
    view.addEventListener('pointerup', end);
    view.addEventListener('pointercancel', end);
    view.addEventListener('wheel', ev => {
      ev.preventDefault();
      const v = viewPoint(ev);
      zoomAt(v.x, v.y, state.scale * (ev.deltaY < 0 ? 1.25 : 0.8));
    }, { passive: false });
    window.addEventListener('keydown', onKey);
    window.addEventListener('resize', () => { state.dirty = true; });
    // The event's own URL: a link update of ours due at the same moment may already have replaced location.hash.
    window.addEventListener('hashchange', ev => {
      const hash = new URL(ev.newURL).hash;
      if (hash !== state.link) { readLink(hash); }
    });
    $('place').addEventListener('click', place);
    $('timelapse').addEventListener('click', startTimelapse);
    $('timelapse-pause').addEventListener('click', pauseTimelapse);
    $('timelapse-stop').addEventListener('click', stopTimelapse);
  }

  // Arrows move the selection (Shift: 10 pixels) and keep it in view; + and - zoom around it; Enter places.
  function onKey(ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.target instanceof HTMLSelectElement) { return; }
    const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const { width, height } = state.config;
    const focus = () => state.selected ?? pixelAt(view.clientWidth / 2, view.clientHeight / 2);
    if (steps[ev.key]) {
      ev.preventDefault();
      const n = ev.shiftKey ? 10 : 1;
      const from = state.selected ?? focus();
      const p = { x: clamp(from.x + steps[ev.key][0] * n, 0, width - 1), y: clamp(from.y + steps[ev.key][1] * n, 0, height - 1) };
      select(p);
      const sx = state.offsetX + (p.x + 0.5) * state.scale, sy = state.offsetY + (p.y + 0.5) * state.scale;
      const margin = Math.min(40, view.clientWidth / 4, view.clientHeight / 4);
      if (sx < margin || sy < margin || sx > view.clientWidth - margin || sy > view.clientHeight - margin) { centerOn(p.x, p.y); }
    } else if (ev.key === '+' || ev.key === '=' || ev.key === '-' || ev.key === '_') {
      ev.preventDefault();
      const f = focus();
      const vx = clamp(state.offsetX + (f.x + 0.5) * state.scale, 0, view.clientWidth);
      const vy = clamp(state.offsetY + (f.y + 0.5) * state.scale, 0, view.clientHeight);
      zoomAt(vx, vy, state.scale * (ev.key === '+' || ev.key === '=' ? 1.25 : 0.8));
    } else if (ev.key === 'Enter' && ev.target === view && !$('place').disabled) {
      ev.preventDefault();
      place();
    }
  }

  // Links: #x=12&y=40&zoom=20 opens the board centred on (12, 40), selected, at 20 screen pixels per pixel.
  function readLink(hash = location.hash) {
    const q = new URLSearchParams(hash.slice(1));
    const x = Number(q.get('x')), y = Number(q.get('y')), zoom = Number(q.get('zoom'));
    if (q.has('zoom') && Number.isFinite(zoom) && zoom > 0) { state.scale = clamp(zoom, MIN_SCALE, MAX_SCALE); }
    if (q.has('x') && q.has('y') && Number.isInteger(x) && Number.isInteger(y) && inside({ x, y })) {
      centerOn(x, y);
      select({ x, y });
    } else if (q.has('zoom')) {
      centerOn(Math.floor(state.config.width / 2), Math.floor(state.config.height / 2));
    }
    state.dirty = true;
  }

  let linkTimer = null;
  function scheduleLink() {
    if (linkTimer) { return; }
    linkTimer = setTimeout(() => {
      linkTimer = null;
      const p = state.selected ?? pixelAt(view.clientWidth / 2, view.clientHeight / 2);
      const c = { x: clamp(p.x, 0, state.config.width - 1), y: clamp(p.y, 0, state.config.height - 1) };
      const hash = `#x=${c.x}&y=${c.y}&zoom=${Math.round(state.scale * 100) / 100}`;
      if (hash !== location.hash) { history.replaceState(null, '', hash); }
      state.link = hash;
      $('link').href = hash;
    }, 150);
  }

  // Who placed the selected pixel, and when (GET /api/pixel, newest first).
  async function showInfo(p) {
    const info = $('info');
    info.textContent = `(${p.x}, ${p.y})`;
    delete info.dataset.user;
    try {
      const res = await fetch(`/api/pixel?x=${p.x}&y=${p.y}&limit=1`, { cache: 'no-store' });
      if (state.selected !== p) { return; }
      if (!res.ok) { info.textContent = `(${p.x}, ${p.y}): history unavailable`; return; }
      const [last] = (await res.json()).placements;
      if (!last) { info.textContent = `(${p.x}, ${p.y}): never placed`; return; }
      info.dataset.user = last.user;
      const mine = (state.token || localStorage.getItem('canvas-token') || '').split('.')[1] === last.user;
      info.textContent = `(${p.x}, ${p.y}): placed by ${mine ? 'you' : last.user} ${ago(last.time)}`;
      info.title = new Date(last.time).toLocaleString();
    } catch {
      if (state.selected === p) { info.textContent = `(${p.x}, ${p.y}): history unavailable`; }
    }
  }

  function ago(time) {
    const s = Math.max(0, Math.round((Date.now() - time) / 1000));
    if (s < 5) { return 'just now'; }
    if (s < 90) { return `${s} s ago`; }
    if (s < 5400) { return `${Math.round(s / 60)} min ago`; }
    if (s < 129600) { return `${Math.round(s / 3600)} h ago`; }
    return `on ${new Date(time).toLocaleDateString()}`;
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
      showInfo(state.selected);
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
    $('place').disabled = left > 0 || !state.selected || Boolean(state.timelapse);
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
    // Live records received, waiting while the board loads, and buffers dropped for being too long.
    get updates() { return { received: state.received, buffered: state.buffered.length, drops: state.bufferDrops, boardLoads: state.boardLoads }; },
    // The timelapse: its state, placements played and the sequence of the last one shown; null when live.
    get timelapse() {
      const t = state.timelapse;
      return t && { state: t.done ? 'done' : t.paused ? 'paused' : 'playing', played: t.played, seq: t.seq };
    },
    // The view transform: a board pixel (x, y) covers view pixels [offsetX + x * scale, offsetX + (x + 1) * scale).
    get view() { return { scale: state.scale, offsetX: state.offsetX, offsetY: state.offsetY }; },
    get selected() { return state.selected && { ...state.selected }; },
    // The board pixel under a page point (clientX, clientY).
    pixelAtClient(clientX, clientY) { return boardPoint({ clientX, clientY }); },
    // The palette index the view canvas actually shows at a page point (what the user sees), or -1.
    shownColorAt(clientX, clientY) {
      const r = view.getBoundingClientRect();
      const d = ctx.getImageData(Math.floor((clientX - r.left) * devicePixelRatio), Math.floor((clientY - r.top) * devicePixelRatio), 1, 1).data;
      return state.rgb.findIndex(c => c[0] === d[0] && c[1] === d[1] && c[2] === d[2]);
    },
  };

  main().catch(err => { setStatus('offline', 'failed to start'); say(String(err)); });
})();
