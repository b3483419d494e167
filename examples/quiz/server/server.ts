import { QuizServer } from './quiz';
import { readSettings } from './settings';

// The quiz container's entry point: settings from the environment contract and QUIZ_* variables.
const quiz = new QuizServer(readSettings());
quiz.server.handleSignals();
quiz.start().catch(err => {
  quiz.log.fatal({ err }, 'quiz failed to start');
  process.exit(1);
});
