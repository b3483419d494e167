// The chat page: log in / register / anonymous, rooms with presence, history with scroll-back, typing,
// search. Protocol (PROTOCOL.md): JSON frames on the same origin's /ws, requests `{type, id, ...}` answered
// by `{type:'ack', id, result}` or `{type:'error', id, code, message}`; search by GET /search.
(() => {
  'use strict';
  const $ = id => document.getElementById(id);
  const TYPING_EVERY_MS = 2000; // send `typing` at most this often while typing
  const TYPING_IDLE_MS = 3000; // send `stop_typing` after this long without a keystroke
  const TYPER_EXPIRES_MS = 3000; // forget another user's `typing` after this long
  const MAX_MESSAGES = 500; // messages kept on the page; older ones are dropped from the list
  const MAX_SEEN = 2000; // message ids remembered to drop duplicates
  const MAX_AVATARS = 500; // identicons kept
  const state = {
    ws: null, nextId: 1, pending: new Map(), retries: 0, session: null, rooms: [], room: null,
    next: undefined, loadingOlder: false, seen: new Set(), typers: new Map(), lastTypingSent: 0, idleTimer: null,
    // Room to the id of the newest message read there (for unread counts), and the room's newest seen id.
    lastRead: {}, newest: undefined, avatars: new Map(), membersTimer: null,
  };

  // ---- connection ----

  function connect() {
    setStatus('connecting', 'connecting…');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    state.ws = ws;
    let opened = false;
    ws.onopen = () => { opened = true; state.retries = 0; setStatus('live', 'live'); start().catch(showChatError); };
    ws.onmessage = ev => receive(JSON.parse(ev.data));
    ws.onclose = async ev => {
      if (state.ws !== ws) { return; }
      for (const { reject } of state.pending.values()) { reject(Object.assign(new Error('connection closed'), { code: 'closed' })); }
      state.pending.clear();
      setStatus('offline', ev.code === 1012 ? 'server restarting, reconnecting…' : 'offline, reconnecting…');
      // Exponential backoff with jitter, so a restart's clients do not all return at once.
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

  function request(type, fields = {}) {
    const id = state.nextId++;
    return new Promise((resolve, reject) => {
      if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
        reject(Object.assign(new Error('not connected; reconnecting'), { code: 'closed' }));
        return;
      }
      state.pending.set(id, { resolve, reject });
      state.ws.send(JSON.stringify({ type, id, ...fields }));
    });
  }

  function send(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) { state.ws.send(JSON.stringify(frame)); }
  }

  function receive(ev) {
    if ((ev.type === 'ack' || ev.type === 'error') && state.pending.has(ev.id)) {
      const { resolve, reject } = state.pending.get(ev.id);
      state.pending.delete(ev.id);
      if (ev.type === 'ack') { resolve(ev.result); } else { reject(Object.assign(new Error(ev.message), { code: ev.code })); }
      return;
    }
    switch (ev.type) {
      case 'new_message':
        if (ev.room === state.room) { state.typers.delete(ev.username); renderTypers(); appendMessages([ev]); }
        break;
      case 'presence':
        if (ev.room === state.room) { showCount(ev.room, ev.numUsers); }
        break;
      case 'user_joined':
      case 'user_left':
        if (ev.room === state.room) {
          showCount(ev.room, ev.numUsers);
          if (ev.type === 'user_left') { state.typers.delete(ev.username); renderTypers(); }
          notice(`${ev.username} ${ev.type === 'user_joined' ? 'joined' : 'left'}`);
          loadMembersSoon();
        }
        break;
      case 'typing':
        if (ev.room === state.room) { state.typers.set(ev.username, Date.now() + TYPER_EXPIRES_MS); renderTypers(); }
        break;
      case 'stop_typing':
        state.typers.delete(ev.username);
        renderTypers();
        break;
      case 'logged_out':
        // The session ended elsewhere (a log-out, or "log out everywhere"): this tab is logged out too.
        endSession('You were logged out.');
        break;
      case 'error':
        showChatError(ev);
        break;
    }
  }

  // ---- log-in ----

  // After a (re)connect: resume the tab's session if it has one, else ask who you are.
  async function start() {
    const saved = readSession();
    if (!saved) { showLogin(); return; }
    try {
      loggedIn(await request('resume_session', { token: saved.token }));
    } catch (err) {
      if (err.code === 'bad_token') { clearSession(); showLogin(); return; }
      throw err;
    }
    await enterChat();
  }

  async function logIn(type, fields) {
    say('login-error', '');
    try {
      loggedIn(await request(type, fields));
      $('password').value = '';
      await enterChat();
    } catch (err) {
      say('login-error', err.message);
    }
  }

  function loggedIn(session) {
    state.session = session;
    sessionStorage.setItem('chat-session', JSON.stringify({ username: session.username, token: session.token }));
    $('whoami').replaceChildren(avatar(session.username), document.createTextNode(session.anonymous ? `${session.username} (anonymous)` : session.username));
    $('logout').hidden = false;
    $('logout-everywhere').hidden = session.anonymous;
  }

  function readSession() {
    try { return JSON.parse(sessionStorage.getItem('chat-session') || 'null'); } catch { return null; }
  }

  function clearSession() {
    sessionStorage.removeItem('chat-session');
    state.session = null;
  }

  function showLogin() {
    $('login').hidden = false;
    $('chat').hidden = true;
    $('whoami').textContent = '';
    $('logout').hidden = true;
    $('logout-everywhere').hidden = true;
    $('username').focus();
  }

  // ---- rooms and messages ----

  async function enterChat() {
    $('login').hidden = true;
    $('chat').hidden = false;
    await refreshRooms();
    const wanted = sessionStorage.getItem('chat-room');
    const rooms = state.rooms;
    await join(rooms.some(r => r.name === wanted) ? wanted : rooms[0].name);
  }

  // The join's ack carries the newest history page; the room's events follow it, none missing or twice.
  async function join(room) {
    const page = await request('join_room', { room });
    // Back in the room it showed (a reconnect): keep the list, add what was missed meanwhile.
    if (room === state.room && $('messages').children.length > 0) {
      appendMessages([...page.messages].reverse());
      showCount(room, page.numUsers);
      loadMembers();
      return;
    }
    state.room = room;
    sessionStorage.setItem('chat-room', room);
    state.seen.clear();
    state.newest = undefined;
    state.typers.clear();
    renderTypers();
    $('messages').replaceChildren();
    $('room-name').textContent = `#${room}`;
    showCount(room, page.numUsers);
    state.next = page.next;
    prependMessages(page.messages);
    markRead();
    renderRooms();
    loadMembers();
    scrollToBottom();
    $('text').focus();
    fillScreen();
  }

  // ---- who is here ----

  async function loadMembers() {
    const room = state.room;
    if (!room) { return; }
    try {
      const { usernames, numUsers } = await request('room_members', { room });
      if (state.room !== room) { return; }
      $('members-title').textContent = numUsers > usernames.length ? `Here (${usernames.length} of ${numUsers})` : 'Here';
      $('member-list').replaceChildren(...usernames.map(name => {
        const li = el('li', null);
        li.append(avatar(name), el('span', null, name));
        return li;
      }));
    } catch (err) {
      showChatError(err);
    }
  }

  // Joins and leaves come in bursts: ask once they settle.
  function loadMembersSoon() {
    clearTimeout(state.membersTimer);
    state.membersTimer = setTimeout(loadMembers, 500);
  }

  // ---- unread counts ----

  function markRead() {
    if (state.room && state.newest) { state.lastRead[state.room] = state.newest; }
  }

  // Asks for every room's count, and for the rooms read before, how many messages came since.
  async function refreshRooms() {
    const { rooms } = await request('room_list', { since: state.lastRead });
    state.rooms = rooms;
    renderRooms();
  }

  // While the history does not fill the list there is nothing to scroll: load older pages until it does.
  function fillScreen() {
    const list = $('messages');
    if (state.next && list.scrollHeight <= list.clientHeight + 40) { loadOlder(); }
  }

  // Scrolled to the top: load the next older page, keeping what is on screen where it was.
  async function loadOlder() {
    if (state.loadingOlder || !state.next || !state.room) { return; }
    state.loadingOlder = true;
    const room = state.room;
    const list = $('messages');
    const loading = el('li', 'loading', 'loading older messages…');
    list.prepend(loading);
    try {
      const page = await request('message_list', { room, cursor: state.next });
      if (state.room !== room) { return; }
      state.next = page.next;
      const before = list.scrollHeight;
      loading.remove();
      prependMessages(page.messages);
      list.scrollTop += list.scrollHeight - before;
    } catch (err) {
      showChatError(err);
    } finally {
      loading.remove();
      state.loadingOlder = false;
    }
    if (state.room === room) { fillScreen(); }
  }

  // `messages` newest first, as history pages come.
  function prependMessages(messages) {
    const list = $('messages');
    const items = messages.filter(m => !state.seen.has(m.message)).reverse().map(messageItem);
    list.prepend(...items);
  }

  // `messages` oldest first.
  function appendMessages(messages) {
    const list = $('messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    for (const m of messages) {
      if (!state.seen.has(m.message)) { list.append(messageItem(m)); }
    }
    trimMessages();
    if (atBottom) { scrollToBottom(); markRead(); }
  }

  function messageItem(m) {
    see(m.message);
    if (!state.newest || m.message > state.newest) { state.newest = m.message; }
    const li = el('li', 'message');
    li.dataset.id = m.message;
    li.append(avatar(m.username), el('span', 'time', formatTime(m.time)), el('span', 'author', m.username), el('span', 'text', m.text));
    return li;
  }

  // Remembers an id, forgetting the oldest beyond MAX_SEEN (a Set iterates in insertion order).
  function see(id) {
    state.seen.add(id);
    if (state.seen.size > MAX_SEEN) { state.seen.delete(state.seen.values().next().value); }
  }

  // Keeps at most MAX_MESSAGES on the page: the oldest go, and so does scrolling back past them.
  function trimMessages() {
    const list = $('messages');
    const items = list.querySelectorAll('li.message');
    if (items.length <= MAX_MESSAGES) { return; }
    for (let i = 0; i < items.length - MAX_MESSAGES; i++) { items[i].remove(); }
    state.next = undefined;
    if (!list.querySelector('li.trimmed')) { list.prepend(el('li', 'trimmed', 'older messages are hidden; open the room again to read them')); }
  }

  // An identicon: a 5×5 mirrored pattern in a colour, both from a hash of the name, drawn as an SVG data
  // URL (allowed by the page's CSP; no request to anyone).
  function avatar(name) {
    let url = state.avatars.get(name);
    if (!url) {
      let h = 2166136261;
      for (const c of name) { h = Math.imul(h ^ c.codePointAt(0), 16777619) >>> 0; }
      const hue = h % 360;
      let cells = '';
      for (let y = 0; y < 5; y++) {
        for (let x = 0; x < 3; x++) {
          if ((h >>> (y * 3 + x + 8)) & 1) {
            cells += `<rect x="${x}" y="${y}" width="1" height="1"/>`;
            if (x < 2) { cells += `<rect x="${4 - x}" y="${y}" width="1" height="1"/>`; }
          }
        }
      }
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="-0.5 -0.5 6 6" shape-rendering="crispEdges"><rect x="-0.5" y="-0.5" width="6" height="6" fill="#f0f0f0"/><g fill="hsl(${hue},55%,45%)">${cells}</g></svg>`;
      url = `data:image/svg+xml,${encodeURIComponent(svg)}`;
      if (state.avatars.size >= MAX_AVATARS) { state.avatars.delete(state.avatars.keys().next().value); }
      state.avatars.set(name, url);
    }
    const img = document.createElement('img');
    img.className = 'avatar';
    img.alt = '';
    img.src = url;
    return img;
  }

  function notice(text) {
    const list = $('messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(el('li', 'notice', text));
    if (atBottom) { scrollToBottom(); }
  }

  function scrollToBottom() { const list = $('messages'); list.scrollTop = list.scrollHeight; }

  function renderRooms() {
    $('room-list').replaceChildren(...state.rooms.map(r => {
      const b = el('button', null);
      b.type = 'button';
      b.dataset.room = r.name;
      b.setAttribute('aria-current', String(r.name === state.room));
      b.append(el('span', null, `#${r.name}`));
      if (r.unread && r.name !== state.room) { b.append(el('span', 'unread', r.unread >= 99 ? '99+' : String(r.unread))); }
      b.append(el('span', 'count', String(r.numUsers)));
      b.addEventListener('click', () => { if (r.name !== state.room) { join(r.name).catch(showChatError); } });
      const li = el('li', null);
      li.append(b);
      return li;
    }));
  }

  function showCount(room, numUsers) {
    const r = state.rooms.find(x => x.name === room);
    if (r) { r.numUsers = numUsers; renderRooms(); }
    if (room === state.room) { $('presence').textContent = `${numUsers} ${numUsers === 1 ? 'person' : 'people'} here`; }
  }

  async function sendMessage(ev) {
    ev.preventDefault();
    const text = $('text').value.trim();
    if (!text || !state.room) { return; }
    stopTyping();
    try {
      const stored = await request('new_message', { room: state.room, text });
      $('text').value = '';
      if (stored.room === state.room) { appendMessages([stored]); scrollToBottom(); }
      say('chat-error', '');
    } catch (err) {
      showChatError(err);
    }
  }

  // ---- typing ----

  function typed() {
    if (!state.room) { return; }
    const now = Date.now();
    if (now - state.lastTypingSent >= TYPING_EVERY_MS) {
      state.lastTypingSent = now;
      send({ type: 'typing', room: state.room });
    }
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.idleTimer);
    if (state.lastTypingSent && state.room) { send({ type: 'stop_typing', room: state.room }); }
    state.lastTypingSent = 0;
  }

  function renderTypers() {
    const now = Date.now();
    for (const [name, expires] of state.typers) { if (expires <= now) { state.typers.delete(name); } }
    const names = [...state.typers.keys()];
    let text = '';
    if (names.length === 1) { text = `${names[0]} is typing…`; }
    else if (names.length === 2) { text = `${names[0]} and ${names[1]} are typing…`; }
    else if (names.length === 3) { text = `${names[0]}, ${names[1]} and ${names[2]} are typing…`; }
    else if (names.length > 3) { text = `${names[0]}, ${names[1]} and ${names.length - 2} others are typing…`; }
    $('typing').textContent = text;
  }

  // ---- search ----

  let searchTimer = null;
  let searchSeq = 0;
  function searchSoon() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 250);
  }

  async function search() {
    const q = $('search').value.trim();
    if (!q) { $('results').hidden = true; return; }
    const seq = ++searchSeq;
    $('results').hidden = false;
    $('search-status').textContent = 'searching…';
    try {
      const res = await fetch(`/search?${new URLSearchParams({ q, limit: '20' })}`, { headers: { accept: 'application/json' } });
      if (seq !== searchSeq) { return; }
      $('search-backend').hidden = res.headers.get('x-search-backend') !== 'local-stand-in';
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        $('result-list').replaceChildren();
        $('search-status').textContent = body.error && body.error.message ? body.error.message : `search is not available (${res.status})`;
        return;
      }
      $('search-status').textContent = body.hits.length ? `${body.hits.length === 20 ? 'first 20' : body.hits.length} found` : 'nothing found';
      $('result-list').replaceChildren(...body.hits.map(hit => {
        const d = hit.document;
        const li = el('li', 'hit');
        li.title = `open #${d.room}`;
        li.append(el('span', 'room-tag', `#${d.room}`), el('span', 'time', formatTime(d.time)), el('span', 'author', d.username), el('span', 'text', d.text));
        li.addEventListener('click', () => { if (d.room !== state.room && state.session) { join(d.room).catch(showChatError); } });
        return li;
      }));
    } catch (err) {
      if (seq === searchSeq) { $('search-status').textContent = `search failed: ${err.message}`; }
    }
  }

  // ---- helpers ----

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) { e.className = className; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function formatTime(ms) {
    const d = new Date(ms);
    const sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
  }

  function setStatus(s, text) { const e = $('status'); e.dataset.state = s; e.textContent = text; }
  function say(id, text) { $(id).textContent = text || ''; }
  function showChatError(err) {
    if (err && err.code === 'closed') { return; }
    say('chat-error', err && err.message ? err.message : String(err));
  }

  // ---- wiring ----

  $('login-form').addEventListener('submit', ev => {
    ev.preventDefault();
    logIn('authenticate_user', { username: $('username').value, password: $('password').value });
  });
  $('register-button').addEventListener('click', () => {
    if ($('login-form').reportValidity()) { logIn('create_user', { username: $('username').value, password: $('password').value }); }
  });
  $('anonymous-button').addEventListener('click', () => logIn('anonymous_user'));
  // Ends the session on the server (on every server at once), then starts over on a fresh connection.
  async function logOut(everywhere) {
    try {
      await request('log_out', everywhere ? { everywhere: true } : {});
    } catch (err) {
      if (err.code !== 'not_logged_in' && err.code !== 'closed') { showChatError(err); return; }
    }
    endSession('');
  }

  function endSession(message) {
    clearSession();
    sessionStorage.removeItem('chat-room');
    state.room = null;
    state.lastRead = {};
    $('member-list').replaceChildren();
    const old = state.ws;
    state.ws = null;
    for (const { reject } of state.pending.values()) { reject(Object.assign(new Error('logged out'), { code: 'closed' })); }
    state.pending.clear();
    if (old) { old.close(1000, 'log out'); }
    connect();
    say('login-error', message);
  }
  $('logout').addEventListener('click', () => logOut(false));
  $('logout-everywhere').addEventListener('click', () => logOut(true));
  $('send-form').addEventListener('submit', sendMessage);
  $('text').addEventListener('input', typed);
  $('messages').addEventListener('scroll', () => {
    const list = $('messages');
    if (list.scrollTop < 40) { loadOlder(); }
    if (list.scrollHeight - list.scrollTop - list.clientHeight < 40) { markRead(); }
  });
  $('search-form').addEventListener('submit', ev => { ev.preventDefault(); search(); });
  $('search').addEventListener('input', searchSoon);
  $('close-results').addEventListener('click', () => { $('results').hidden = true; $('search').value = ''; });
  setInterval(renderTypers, 500);
  // Counts and unread messages of the rooms one is not in arrive with no event: refresh the list now and then.
  setInterval(() => {
    if (state.session && state.ws && state.ws.readyState === WebSocket.OPEN) {
      refreshRooms().catch(() => undefined);
    }
  }, 5000);

  // For tests and the console.
  window.chatApp = {
    get room() { return state.room; },
    get username() { return state.session && state.session.username; },
    messages() { return [...document.querySelectorAll('#messages li.message .text')].map(e => e.textContent); },
    members() { return [...document.querySelectorAll('#member-list li span')].map(e => e.textContent); },
    unread(room) { const b = document.querySelector(`#room-list button[data-room="${room}"] .unread`); return b ? b.textContent : ''; },
  };

  connect();
})();
