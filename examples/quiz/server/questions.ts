import { QuizError } from './errors';
import { LIMITS, Question } from './protocol';

/**
 * Checks an uploaded question set and returns it with text trimmed. Every problem names the question
 * (1-based, as a person counts) and what to change.
 */
export function validateQuestionSet(questions: readonly Question[]): Question[] {
  if (questions.length === 0) {
    throw new QuizError('invalid_questions', 'the question set is empty; upload at least one question');
  }
  if (questions.length > LIMITS.questionsMax) {
    throw new QuizError('invalid_questions', `the set has ${questions.length} questions; the limit is ${LIMITS.questionsMax}`);
  }
  const seen = new Map<string, number>();
  return questions.map((q, i) => {
    const where = `question ${i + 1}`;
    const question = q.question.trim();
    const category = q.category.trim();
    const options = q.options.map(o => o.trim());
    if (question.length === 0 || question.length > LIMITS.questionChars) {
      throw new QuizError('invalid_questions', `${where}: the text has ${question.length} characters; use 1-${LIMITS.questionChars}`);
    }
    if (category.length === 0 || category.length > LIMITS.categoryChars) {
      throw new QuizError('invalid_questions', `${where}: the category has ${category.length} characters; use 1-${LIMITS.categoryChars}`);
    }
    if (options.length < LIMITS.optionsMin || options.length > LIMITS.optionsMax) {
      throw new QuizError('invalid_questions', `${where}: it has ${options.length} options; use ${LIMITS.optionsMin}-${LIMITS.optionsMax}`);
    }
    options.forEach((option, o) => {
      if (option.length === 0 || option.length > LIMITS.optionChars) {
        throw new QuizError('invalid_questions', `${where}: option ${o} has ${option.length} characters; use 1-${LIMITS.optionChars}`);
      }
      if (options.indexOf(option) !== o) {
        throw new QuizError('invalid_questions', `${where}: options ${options.indexOf(option)} and ${o} are both ${JSON.stringify(option)}; make them differ`);
      }
    });
    if (q.answers.length === 0) {
      throw new QuizError('invalid_questions', `${where}: no correct answer; list the index (from 0) of at least one option in answers`);
    }
    q.answers.forEach((a, k) => {
      if (a >= options.length) {
        throw new QuizError('invalid_questions', `${where}: answer index ${a} is out of range; the options are indexed 0-${options.length - 1}`);
      }
      if (q.answers.indexOf(a) !== k) {
        throw new QuizError('invalid_questions', `${where}: answer index ${a} is listed twice`);
      }
    });
    if (q.answers.length === options.length) {
      throw new QuizError('invalid_questions', `${where}: every option is correct; leave at least one wrong option`);
    }
    const key = question.toLowerCase();
    if (seen.has(key)) {
      throw new QuizError('invalid_questions', `${where} repeats question ${seen.get(key)! + 1}; remove one of them`);
    }
    seen.set(key, i);
    return { question, category, options, answers: [...q.answers].sort((a, b) => a - b) };
  });
}

/**
 * The share of a question's points an answer earns, before the time factor: each correct pick adds one,
 * each wrong pick takes one away, divided by the number of correct options, never below 0. A client may
 * pick at most as many options as there are correct ones (the question tells it how many).
 */
export function correctFraction(correct: readonly number[], selected: readonly number[]): number {
  const right = selected.filter(s => correct.includes(s)).length;
  const wrong = selected.length - right;
  return Math.max(0, right - wrong) / correct.length;
}

/** Points of an answer: 100 × fraction × (duration − answer time) / duration, rounded to 2 decimals. */
export function points(fraction: number, answerMs: number, durationMs: number): number {
  if (answerMs > durationMs) {
    return 0;
  }
  return Math.round((100 * fraction * (durationMs - answerMs) / durationMs) * 100) / 100;
}
