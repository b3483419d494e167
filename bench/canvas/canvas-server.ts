import { CanvasServer, readSettings } from '../../examples/canvas/server/canvas';

// The canvas server as the container runs it, reporting its port to the benchmark over IPC.
const canvas = new CanvasServer(readSettings());
canvas.server.handleSignals();
void canvas.start().then(port => process.send?.({ port }));
