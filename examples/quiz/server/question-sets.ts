import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { QuizError } from './errors';
import { Question } from './protocol';
import { Dynamo } from '../../kit/dynamo';

/**
 * Uploaded question sets in DynamoDB, one item per quiz (a set is at most 256 KiB, inside DynamoDB's
 * 400 KB item limit), read by whichever server starts the quiz and deleted once the results are stored.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html#limits-items
 */
export class QuestionSetStore {
  constructor(private readonly dynamo: Dynamo, private readonly tableName: string, private readonly ttlSeconds: number) {}

  public async put(quizId: string, questions: Question[]): Promise<void> {
    const now = Date.now();
    await this.call(() => this.dynamo.db.send(new PutCommand({
      TableName: this.tableName,
      Item: { quizId, questions, uploadedAt: now, expiresAt: Math.floor(now / 1000) + this.ttlSeconds },
    })));
  }

  public async get(quizId: string): Promise<Question[] | undefined> {
    const out = await this.call(() => this.dynamo.db.send(new GetCommand({ TableName: this.tableName, Key: { quizId }, ConsistentRead: true })));
    return out.Item?.questions as Question[] | undefined;
  }

  /** Deletes the set; deleting one that is gone is not an error. */
  public async delete(quizId: string): Promise<void> {
    await this.dynamo.db.send(new DeleteCommand({ TableName: this.tableName, Key: { quizId } }));
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new QuizError('unavailable', `the question store is unavailable (${(err as Error).name}); try again`, 503);
    }
  }
}
