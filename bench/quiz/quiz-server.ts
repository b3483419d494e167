import { QuizServer } from '../../examples/quiz/server/quiz';
import { readSettings } from '../../examples/quiz/server/settings';

// The quiz server as the container runs it (examples/quiz/server/server.ts), reporting its port to the
// benchmark over IPC, and stopping if the benchmark goes away without stopping it.
const quiz = new QuizServer(readSettings());
quiz.server.handleSignals();
process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
quiz.start().then(port => process.send?.({ port }), err => {
  quiz.log.fatal({ err }, 'quiz failed to start');
  process.exit(1);
});
