export * from './bus';
export * from './config';
export * from './http';
export * from './log';
export * from './metrics';
export * from './rate-limit';
export * from './server';
export * from './static-files';
