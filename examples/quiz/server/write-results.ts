import { QuestionSetStore } from './question-sets';
import { ResultWriter, WriterStep } from './results';
import { readSettings } from './settings';
import { QuizStore } from './store';
import { connectRedis, createLogger, readConfig } from '../../kit';
import { connectDynamo } from '../../kit/dynamo';

/**
 * Stores one finished quiz's results by hand (`tsx write-results.ts <quizId>`), exactly as the servers do:
 * safe to run any number of times, also while a server does the same. QUIZ_WRITER_STOP_AFTER=<step>
 * kills the process (SIGKILL, no clean-up) right after that step, to show a crash loses and repeats
 * nothing.
 */
async function main(): Promise<void> {
  const quizId = process.argv[2];
  if (!quizId) {
    throw new Error('usage: write-results.ts <quizId>');
  }
  const settings = readSettings();
  const config = readConfig();
  const log = createLogger('quiz-results');
  const redis = connectRedis(config, log, 'quiz-results', { commandTimeoutMs: 3000 });
  const dynamo = connectDynamo(settings.dynamoEndpoint);
  const stopAfter = process.env.QUIZ_WRITER_STOP_AFTER as WriterStep | undefined;
  const store = new QuizStore(redis, settings.ttlSeconds);
  const questionSets = new QuestionSetStore(dynamo, settings.questionSetsTable, settings.ttlSeconds);
  const writer = new ResultWriter(store, questionSets, dynamo, settings.resultsTable, step => {
    if (step === stopAfter) {
      process.kill(process.pid, 'SIGKILL');
    }
  });
  const outcome = await writer.write(quizId);
  if (outcome.status !== 'not_finished') {
    await store.resultsDone(quizId);
  }
  process.stdout.write(JSON.stringify(outcome) + '\n');
  redis.disconnect();
  dynamo.client.destroy();
}

main().catch(err => {
  console.error(err.message);
  process.exit(1);
});
