import { CanvasServer, readSettings } from './canvas';

// The canvas container's entry point: settings from the environment contract and CANVAS_* variables.
const canvas = new CanvasServer(readSettings());
canvas.server.handleSignals();
canvas.start().catch(err => {
  canvas.log.fatal({ err }, 'canvas failed to start');
  process.exit(1);
});
