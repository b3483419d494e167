'use strict';
// The host page: create a quiz, upload a question set, choose name, duration, categories and questions,
// start it, watch per-question counts and the leaderboard, read the summary. The host token stays in
// this tab (sessionStorage), so a reload reconnects to the same quiz.
(function () {
  const { api, connect, show, el, renderLeaderboard } = window.quizCommon;
  const $ = id => document.getElementById(id);
  const state = { session: JSON.parse(sessionStorage.getItem('quiz-host') || 'null'), phase: 'create', questions: [], participants: 0, progress: null, summary: null, leaderboard: [] };
  window.quizApp = state;
  let link;

  function setPhase(phase) {
    state.phase = phase;
    for (const id of ['create', 'setup', 'live', 'summary']) show(id, id === phase);
    document.body.dataset.phase = phase;
  }

  $('create-button').addEventListener('click', async () => {
    try {
      state.session = await api('/api/sign-on/host');
      sessionStorage.setItem('quiz-host', JSON.stringify(state.session));
      start();
    } catch (err) {
      $('error').textContent = err.message;
    }
  });

  $('question-file').addEventListener('change', async () => {
    const file = $('question-file').files[0];
    if (file) $('question-json').value = await file.text();
  });

  $('upload-button').addEventListener('click', async () => {
    $('upload-error').textContent = '';
    let body;
    try {
      body = JSON.parse($('question-json').value);
    } catch {
      $('upload-error').textContent = 'that is not JSON';
      return;
    }
    try {
      await api('/api/upload/quiz', body, state.session.token);
      link.send('REQUEST-HOST-QUESTIONS');
    } catch (err) {
      $('upload-error').textContent = err.message;
    }
  });

  $('config-form').addEventListener('change', updatePicker);

  $('config-form').addEventListener('submit', event => {
    event.preventDefault();
    $('config-error').textContent = '';
    const categories = [...$('categories').querySelectorAll('input:checked')].map(i => i.value);
    const selected = [...$('question-picker').querySelectorAll('input:checked:not(:disabled)')].map(i => Number(i.value));
    link.send('HOST-CONFIG', { quizName: $('quiz-name').value, categories, duration: Number($('duration').value), selectedQuestionIndexes: selected });
  });

  $('new-quiz').addEventListener('click', () => {
    sessionStorage.removeItem('quiz-host');
    if (link) link.close();
    location.reload();
  });

  function start() {
    $('quiz-id').textContent = state.session.quizId;
    $('join-link').textContent = location.origin + '/?quiz=' + state.session.quizId;
    setPhase('setup');
    link = connect(state.session.token, { onFrame: receive, onOpen: () => link.send('REQUEST-HOST-QUESTIONS') });
  }

  function receive(frame) {
    const p = frame.payload || {};
    switch (frame.type) {
      case 'QUIZ-STATE':
        if (p.state === 'created') setPhase('setup');
        break;
      case 'RESPONSE-HOST-QUESTIONS':
        showQuestions(p.questions, p.categories);
        break;
      case 'BROADCAST-PARTICIPANT-CONFIG':
        state.participants = p.totalParticipants;
        $('participant-count').textContent = p.totalParticipants + (p.totalParticipants === 1 ? ' participant has' : ' participants have') + ' joined.';
        break;
      case 'BROADCAST-START':
        $('live-title').textContent = p.quizName + ': ' + p.numberOfQuestions + ' questions, ' + p.questionDuration + ' s each';
        if (state.phase !== 'summary') setPhase('live');
        break;
      case 'HOST-PROGRESS':
        showProgress(p);
        break;
      case 'BROADCAST-PARTICIPANT-FINISHED':
        $('finished-count').textContent = String(p.totalFinishedParticipants);
        $('total-count').textContent = String(p.totalParticipants);
        break;
      case 'LEADERBOARD':
        state.leaderboard = p.leaderboard;
        renderLeaderboard($('leaderboard'), p.leaderboard);
        break;
      case 'NOTIFY-HOST-QUIZ-SUMMARY':
        showSummary(p);
        break;
      case 'error':
        $(state.phase === 'setup' ? 'config-error' : 'error').textContent = frame.message;
        break;
    }
  }

  function showQuestions(questions, categories) {
    state.questions = questions;
    show('config-form', questions.length > 0);
    $('categories').replaceChildren(...categories.map(c => {
      const label = el('label');
      label.className = 'row';
      const box = el('input');
      box.type = 'checkbox';
      box.value = c;
      box.checked = true;
      label.append(box, el('span', c));
      return label;
    }));
    $('question-picker').replaceChildren(...questions.map((q, i) => {
      const li = el('li');
      const label = el('label');
      label.className = 'row';
      const box = el('input');
      box.type = 'checkbox';
      box.value = String(i);
      box.checked = true;
      box.dataset.category = q.category;
      label.append(box, el('span', q.question + ' (' + q.category + (q.answers.length > 1 ? ', ' + q.answers.length + ' answers' : '') + ')'));
      li.append(label);
      return li;
    }));
    updatePicker();
  }

  /** Questions of unchosen categories cannot be picked. */
  function updatePicker() {
    const categories = new Set([...$('categories').querySelectorAll('input:checked')].map(i => i.value));
    let count = 0;
    for (const box of $('question-picker').querySelectorAll('input')) {
      box.disabled = !categories.has(box.dataset.category);
      if (box.checked && !box.disabled) count++;
    }
    $('selected-count').textContent = String(count);
  }

  function showProgress(p) {
    state.progress = p;
    $('finished-count').textContent = String(p.finished);
    $('total-count').textContent = String(p.participants);
    $('progress-rows').replaceChildren(...p.counts.map((c, i) => {
      const tr = el('tr');
      tr.append(el('td', String(i + 1)), el('td', String(c.correct), 'num'), el('td', String(c.incorrect), 'num'), el('td', String(c.timedOut), 'num'));
      return tr;
    }));
  }

  function showSummary(p) {
    state.summary = p;
    $('summary-name').textContent = p.quizName;
    $('summary-participants').textContent = String(p.participants);
    $('summary-elapsed').textContent = (p.totalTimeElapsed / 1000).toFixed(1);
    $('summary-avg').textContent = (p.avgAnswerTime / 1000).toFixed(1);
    $('summary-rows').replaceChildren(...p.questions.map(q => {
      const tr = el('tr');
      tr.append(el('td', q.question), el('td', q.correctOptionIndexes.map(i => q.options[i]).join(', ')),
        el('td', String(q.correct), 'num'), el('td', String(q.incorrect), 'num'), el('td', String(q.timedOut), 'num'));
      return tr;
    }));
    renderLeaderboard($('leaderboard'), p.leaderboard);
    setPhase('summary');
  }

  if (state.session) start(); else setPhase('create');
})();
