'use strict';
// The participant page: join by quiz id and name, answer at your own pace against the server's clock,
// watch the leaderboard, read your summary. The sign-on token stays in this tab (sessionStorage), so a
// reload or a reconnect to another server resumes at the current question.
(function () {
  const { api, connect, show, el, renderLeaderboard } = window.quizCommon;
  const $ = id => document.getElementById(id);
  const state = {
    session: JSON.parse(sessionStorage.getItem('quiz-participant') || 'null'),
    phase: 'join',
    questionIndex: 0,
    question: null,
    selected: [],
    deadline: 0,
    leaderboard: [],
    score: 0,
    summary: null,
  };
  window.quizApp = state;
  let link;
  let ticker;

  const params = new URLSearchParams(location.search);
  if (params.get('quiz')) $('quiz-id').value = params.get('quiz');

  function setPhase(phase) {
    state.phase = phase;
    for (const id of ['join-form', 'lobby', 'play', 'waiting', 'summary']) show(id, false);
    show({ join: 'join-form', lobby: 'lobby', play: 'play', waiting: 'waiting', summary: 'summary' }[phase], true);
    document.body.dataset.phase = phase;
  }

  $('join-form').addEventListener('submit', async event => {
    event.preventDefault();
    $('join-error').textContent = '';
    try {
      const quizId = $('quiz-id').value.trim().toLowerCase();
      const joined = await api('/api/sign-on/' + encodeURIComponent(quizId) + '/join', { name: $('name').value });
      state.session = joined;
      sessionStorage.setItem('quiz-participant', JSON.stringify(joined));
      start();
    } catch (err) {
      $('join-error').textContent = err.message;
    }
  });

  $('leave').addEventListener('click', () => {
    sessionStorage.removeItem('quiz-participant');
    if (link) link.close();
    state.session = null;
    setPhase('join');
  });

  $('submit-answer').addEventListener('click', () => {
    $('submit-answer').disabled = true;
    link.send('PARTICIPANT-ANSWER', { questionIndex: state.questionIndex, selectedOptionIndexes: state.selected });
  });

  function start() {
    $('whoami').textContent = state.session.name + ' · quiz ' + state.session.quizId;
    setPhase('lobby');
    link = connect(state.session.token, { onFrame: receive });
  }

  function ask() {
    link.send('REQUEST-PARTICIPANT-QUESTION', { questionIndex: state.questionIndex });
  }

  function receive(frame) {
    const p = frame.payload || {};
    switch (frame.type) {
      case 'QUIZ-STATE':
        state.questionIndex = p.questionIndex || 0;
        state.score = p.score || 0;
        if (p.state === 'started') {
          if (p.finished) waiting(); else ask();
        } else if (p.state === 'created') {
          setPhase('lobby');
        }
        break;
      case 'BROADCAST-PARTICIPANT-CONFIG':
        $('participant-count').textContent = p.totalParticipants + ' joined so far.';
        break;
      case 'BROADCAST-START':
        if (state.phase === 'lobby') ask();
        break;
      case 'RESPONSE-PARTICIPANT-QUESTION':
        showQuestion(p);
        break;
      case 'RESPONSE-PARTICIPANT-ANSWER':
        clearInterval(ticker);
        state.score = p.score;
        $('outcome').textContent = p.outcome === 'timeout' ? 'Time is up: no points.' : (p.outcome === 'correct' ? 'Correct! ' : 'Not quite. ') + '+' + p.points.toFixed(2);
        $('outcome').dataset.outcome = p.outcome;
        state.questionIndex = p.nextQuestionIndex;
        if (p.finished) {
          waiting();
        } else {
          setTimeout(ask, 600);
        }
        break;
      case 'LEADERBOARD':
        state.leaderboard = p.leaderboard;
        renderLeaderboard($('leaderboard'), p.leaderboard, state.session && state.session.userId);
        break;
      case 'BROADCAST-PARTICIPANT-FINISHED':
        $('finished-count').textContent = p.totalFinishedParticipants + ' of ' + p.totalParticipants + ' finished.';
        break;
      case 'NOTIFY-PARTICIPANT-QUIZ-SUMMARY':
        showSummary(p);
        break;
      case 'error':
        if (frame.code === 'wrong_question' && typeof frame.currentQuestionIndex === 'number') {
          state.questionIndex = frame.currentQuestionIndex;
          if (state.phase !== 'waiting' && state.phase !== 'summary') ask();
          break;
        }
        $('error').textContent = frame.message;
        break;
    }
  }

  function showQuestion(p) {
    setPhase('play');
    state.question = p;
    state.questionIndex = p.questionIndex;
    state.selected = [];
    state.deadline = performance.now() + p.remainingMs;
    $('question-number').textContent = 'Question ' + (p.questionIndex + 1) + ' of ' + p.numberOfQuestions;
    $('question-category').textContent = p.category;
    $('question-text').textContent = p.question;
    $('pick-count').textContent = p.numberOfOptionsToSelect === 1 ? 'one' : p.numberOfOptionsToSelect;
    $('outcome').textContent = '';
    $('submit-answer').disabled = true;
    $('options').replaceChildren(...p.options.map((text, i) => {
      const button = el('button', text);
      button.type = 'button';
      button.dataset.option = String(i);
      button.setAttribute('aria-pressed', 'false');
      button.addEventListener('click', () => toggle(i));
      return button;
    }));
    clearInterval(ticker);
    tick();
    ticker = setInterval(tick, 100);
  }

  function toggle(i) {
    const limit = state.question.numberOfOptionsToSelect;
    if (state.selected.includes(i)) {
      state.selected = state.selected.filter(s => s !== i);
    } else if (limit === 1) {
      state.selected = [i];
    } else if (state.selected.length < limit) {
      state.selected = [...state.selected, i];
    }
    for (const button of $('options').children) {
      button.setAttribute('aria-pressed', String(state.selected.includes(Number(button.dataset.option))));
    }
    $('submit-answer').disabled = state.selected.length === 0;
  }

  function tick() {
    const left = Math.max(0, state.deadline - performance.now());
    const share = left / (state.question.questionDuration * 1000);
    $('timer-bar').style.width = (share * 100).toFixed(1) + '%';
    $('timer-bar').classList.toggle('low', share < 0.25);
    $('time-left').textContent = (left / 1000).toFixed(1);
    if (left === 0) {
      clearInterval(ticker);
      $('submit-answer').disabled = true;
      link.send('PARTICIPANT-ANSWER-TIMEOUT', { questionIndex: state.questionIndex });
    }
  }

  function waiting() {
    clearInterval(ticker);
    $('my-score').textContent = state.score.toFixed(2);
    setPhase('waiting');
  }

  function showSummary(p) {
    clearInterval(ticker);
    state.summary = p;
    $('summary-score').textContent = p.score.toFixed(2);
    $('summary-rank').textContent = String(p.rank);
    $('summary-participants').textContent = String(p.participants);
    $('summary-avg').textContent = (p.avgAnswerTime / 1000).toFixed(1);
    $('summary-rows').replaceChildren(...p.questions.map(q => {
      const tr = el('tr');
      const mine = q.outcome === 'timeout' ? 'timed out' : q.selectedOptionIndexes.map(i => q.options[i]).join(', ') || '—';
      tr.append(el('td', q.question), el('td', q.correctOptionIndexes.map(i => q.options[i]).join(', ')), el('td', mine), el('td', q.points.toFixed(2), 'num'));
      tr.dataset.outcome = q.outcome;
      return tr;
    }));
    renderLeaderboard($('leaderboard'), p.leaderboard, state.session.userId);
    setPhase('summary');
  }

  if (state.session) start(); else setPhase('join');
})();
