import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';

/**
 * Options of a static site served by a front door.
 */
export interface FrontDoorSiteOptions {
  /**
   * The object served for `/`.
   *
   * @default 'index.html'
   */
  readonly defaultRootObject?: string;

  /**
   * Answer paths the bucket does not hold with `defaultRootObject` and status 200, for a single-page app
   * that routes in the browser. API and realtime paths are not affected (their origins answer them).
   *
   * @default false
   */
  readonly singlePageApp?: boolean;
}

/**
 * The static site a `CdnFrontDoor` serves on its default behaviour, from a private bucket it creates.
 */
export class FrontDoorSite {
  /**
   * The files of a local folder, uploaded on every deploy (stale files removed, the cache invalidated).
   */
  public static fromDirectory(directory: string, options: FrontDoorSiteOptions = {}): FrontDoorSite {
    return new FrontDoorSite([s3deploy.Source.asset(directory)], directory, options);
  }

  /**
   * Any bucket-deployment sources, e.g. a build output asset or `Source.data(...)` files.
   */
  public static fromSources(sources: s3deploy.ISource[], options: FrontDoorSiteOptions = {}): FrontDoorSite {
    return new FrontDoorSite(sources, undefined, options);
  }

  /** The sources deployed into the site bucket. */
  public readonly sources: s3deploy.ISource[];
  /** The local folder, for `fromDirectory`. */
  public readonly directory?: string;
  /** The object served for `/`. */
  public readonly defaultRootObject: string;
  /** Whether unknown paths answer with the root object. */
  public readonly singlePageApp: boolean;

  private constructor(sources: s3deploy.ISource[], directory: string | undefined, options: FrontDoorSiteOptions) {
    this.sources = sources;
    this.directory = directory;
    this.defaultRootObject = options.defaultRootObject ?? 'index.html';
    this.singlePageApp = options.singlePageApp ?? false;
  }
}
