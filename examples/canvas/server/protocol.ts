/**
 * The binary update frame the server pushes over /ws every tick that has placements:
 *
 *   byte 0       frame type, 1 = updates
 *   bytes 1-2    count, unsigned 16-bit little-endian
 *   then count records of 9 bytes: seq (u32 LE), x (u16 LE), y (u16 LE), color (u8)
 *
 * The same 9-byte records travel on the bus, those of one event-loop turn concatenated in one message.
 */
export const FRAME_UPDATES = 1;
export const RECORD_BYTES = 9;

export interface Update {
  readonly seq: number;
  readonly x: number;
  readonly y: number;
  readonly color: number;
}

export function encodeRecord(u: Update): Buffer {
  const b = Buffer.allocUnsafe(RECORD_BYTES);
  b.writeUInt32LE(u.seq, 0);
  b.writeUInt16LE(u.x, 4);
  b.writeUInt16LE(u.y, 6);
  b.writeUInt8(u.color, 8);
  return b;
}

export function decodeRecord(b: Buffer, offset = 0): Update {
  return { seq: b.readUInt32LE(offset), x: b.readUInt16LE(offset + 4), y: b.readUInt16LE(offset + 6), color: b.readUInt8(offset + 8) };
}

/** One frame from records already in wire form, in sequence order. */
export function encodeFrame(records: Buffer[]): Buffer {
  records.sort((a, b) => a.readUInt32LE(0) - b.readUInt32LE(0));
  const frame = Buffer.allocUnsafe(3 + records.length * RECORD_BYTES);
  frame.writeUInt8(FRAME_UPDATES, 0);
  frame.writeUInt16LE(records.length, 1);
  records.forEach((r, i) => r.copy(frame, 3 + i * RECORD_BYTES));
  return frame;
}

export function decodeFrame(frame: Buffer): Update[] {
  if (frame.readUInt8(0) !== FRAME_UPDATES) {
    throw new Error(`unknown frame type ${frame.readUInt8(0)}`);
  }
  const count = frame.readUInt16LE(1);
  return Array.from({ length: count }, (_, i) => decodeRecord(frame, 3 + i * RECORD_BYTES));
}
