'use strict';
// Shared by the host and participant pages: the API, the WebSocket with reconnects, and small view helpers.
(function () {
  async function api(path, body, token) {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body === undefined ? {} : body) });
    const data = await res.json().catch(() => ({ error: 'bad_response', message: 'the server answered ' + res.status }));
    if (!res.ok) throw Object.assign(new Error(data.message || data.error), { code: data.error, status: res.status });
    return data;
  }

  /**
   * A WebSocket to /ws that reconnects (quickly after a server restart, 1012) and hands every frame to
   * `onFrame`. `onOpen` runs after each (re)connect; the server then sends the quiz state again.
   */
  function connect(token, handlers) {
    const status = document.getElementById('status');
    let socket;
    let attempts = 0;
    let stopped = false;
    function open() {
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      socket = new WebSocket(scheme + '//' + location.host + '/ws?token=' + encodeURIComponent(token));
      status.textContent = 'connecting…';
      status.dataset.state = 'connecting';
      socket.onopen = () => {
        attempts = 0;
        status.textContent = 'live';
        status.dataset.state = 'live';
        if (handlers.onOpen) handlers.onOpen();
      };
      socket.onmessage = event => handlers.onFrame(JSON.parse(event.data));
      socket.onclose = event => {
        status.textContent = 'offline';
        status.dataset.state = 'offline';
        if (stopped || event.code === 4404) return;
        attempts++;
        const wait = event.code === 1012 ? 200 + Math.random() * 800 : Math.min(10000, 500 * 2 ** attempts);
        setTimeout(open, wait);
      };
    }
    open();
    return {
      send(type, payload) {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type, payload: payload || {} }));
      },
      close() { stopped = true; if (socket) socket.close(); },
    };
  }

  function show(id, visible) {
    document.getElementById(id).hidden = !visible;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function renderLeaderboard(list, entries, me) {
    list.replaceChildren(...entries.map(e => {
      const li = el('li');
      li.dataset.user = e.userId;
      if (e.userId === me) li.className = 'me';
      li.append(el('span', e.name, 'name'), el('span', e.score.toFixed(2), 'score'));
      return li;
    }));
  }

  window.quizCommon = { api, connect, show, el, renderLeaderboard };
})();
