import { Socket } from 'net';
import * as wsModule from 'ws';
import { WebSocket } from 'ws';

interface FrameOptions { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }
/** ws exports its frame builder at run time; @types/ws does not declare it. */
const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender;

/**
 * A complete server-to-client WebSocket frame (header and payload; server frames are not masked), built
 * once per message and then written as the same bytes to every socket that gets it.
 */
export function buildFrame(data: Buffer | string, binary: boolean): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  const parts = Sender.frame(payload, { fin: true, rsv1: false, opcode: binary ? 2 : 1, mask: false, readOnly: true });
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/**
 * Frames waiting for one socket. Everything the application sends in one event-loop turn leaves in one
 * write per socket (corked, so one writev system call) when the turn ends: under load a socket's syscall
 * count stops growing with the message rate. Frames go straight to the TCP socket underneath `ws` (its
 * `_socket`), which is safe because `ws` without compression writes its own frames synchronously, so
 * frames never interleave.
 */
export class Outbox {
  private frames: Buffer[] = [];
  private queuedBytes = 0;

  constructor(private readonly ws: WebSocket) {}

  public get isEmpty(): boolean {
    return this.frames.length === 0;
  }

  /** Bytes not yet written to the network: those the socket holds plus those queued here. */
  public get pendingBytes(): number {
    return this.ws.bufferedAmount + this.queuedBytes;
  }

  public push(frame: Buffer): void {
    this.frames.push(frame);
    this.queuedBytes += frame.length;
  }

  /** The queued frames, handed over and forgotten (the caller writes them with `write`). */
  public take(): Buffer[] {
    const frames = this.frames;
    this.frames = [];
    this.queuedBytes = 0;
    return frames;
  }

  /** Writes the queued frames now. */
  public flush(): void {
    this.write(this.take());
  }

  /** Writes bytes (one buffer, or several in one corked write) straight to the TCP socket. */
  public write(data: Buffer | Buffer[]): void {
    const raw = (this.ws as unknown as { _socket?: Socket })._socket;
    if (this.ws.readyState !== WebSocket.OPEN || !raw || raw.destroyed) {
      return;
    }
    if (Buffer.isBuffer(data)) {
      raw.write(data);
      return;
    }
    if (data.length === 1) {
      raw.write(data[0]);
      return;
    }
    raw.cork();
    for (const frame of data) {
      raw.write(frame);
    }
    raw.uncork();
  }
}

/**
 * Joins frame lists for many sockets, reusing the joined bytes while consecutive sockets got the very same
 * frames (the usual case for broadcasts), so each socket gets one plain write of one shared buffer.
 */
export class FrameJoiner {
  private lastFrames: Buffer[] = [];
  private lastJoined?: Buffer;

  public join(frames: Buffer[]): Buffer | Buffer[] {
    if (frames.length === 1) {
      return frames[0];
    }
    if (this.lastJoined && sameFrames(frames, this.lastFrames)) {
      return this.lastJoined;
    }
    this.lastFrames = frames;
    this.lastJoined = Buffer.concat(frames);
    return this.lastJoined;
  }
}

function sameFrames(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) {
    return false;
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return false;
    }
  }
  return true;
}
