/**
 * The safetensors format: an 8-byte little-endian header length, a JSON
 * header of {name: {dtype, shape, data_offsets}}, then raw little-endian data.
 *
 * A tensor is either mapped from the file as stored (copy-on-write: pages
 * come from the page cache on first touch and a write stays private), or
 * read into a Float32Array, straight from disk (F32) or through a small
 * scratch buffer (F16/BF16 upcast), so a checkpoint is never held twice in
 * memory.
 */
import fs from 'node:fs';
import { fileMapper } from '../tensor/backends/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { CheckpointError, quote, UnsupportedError } from '../util/errors.js';
import { bf16ToF32, f16ToF32, f32ToBf16Bits, f32ToF16Bits } from './dtype.js';

export type StoredDtype = 'F32' | 'F16' | 'BF16' | 'F64';
const BYTES: Record<StoredDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };
const KNOWN_UNSUPPORTED = new Set(['I8', 'U8', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64', 'BOOL', 'F8_E4M3', 'F8_E5M2']);
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const CHUNK_BYTES = 8 * 1024 * 1024;

export interface TensorEntry {
  readonly name: string;
  readonly dtype: StoredDtype;
  readonly shape: readonly number[];
  /** Absolute byte range in the file. */
  readonly begin: number;
  readonly end: number;
}

/** Where a mapped tensor's bytes lie, so another thread can map the same bytes. */
export interface MappedRange {
  file: string;
  begin: number;
  end: number;
  dtype: StoredDtype;
}

/** The file range behind each mapped buffer. */
const mappedRanges = new WeakMap<ArrayBufferLike, MappedRange>();

/** The file range a buffer maps, when it is a mapped tensor's. */
export function mappedRangeOf(buffer: ArrayBufferLike): MappedRange | undefined {
  return mappedRanges.get(buffer);
}

/** A tensor's stored values in place: float32 for F32, the 16-bit patterns for F16 and BF16. */
export type MappedValues = Float32Array | Uint16Array;

/** Whether this process can map files (the native addon is in use). */
export function canMap(): boolean {
  return fileMapper() !== null;
}

/** Maps a range again (in a worker thread, say); null where this process cannot map files. */
export function mapRange(range: MappedRange): MappedValues | null {
  const mapper = fileMapper();
  if (mapper === null) return null;
  const fd = fs.openSync(range.file, 'r');
  try {
    return viewOf(mapper(fd, range.begin, range.end - range.begin), range);
  } finally {
    fs.closeSync(fd);
  }
}

function viewOf(buffer: ArrayBuffer, range: MappedRange): MappedValues {
  mappedRanges.set(buffer, range);
  return range.dtype === 'F32' ? new Float32Array(buffer) : new Uint16Array(buffer);
}

/** An open safetensors file: its header is parsed and validated, tensors are read on demand. */
export class SafetensorsFile {
  readonly entries: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  /** One conversion buffer for every half-precision tensor of the file (a fresh one per tensor would pile up until the GC runs). */
  private scratch: Uint8Array | null = null;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    entries: Map<string, TensorEntry>,
    metadata: Record<string, string>,
  ) {
    this.entries = entries;
    this.metadata = metadata;
  }

  static open(file: string): SafetensorsFile {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (error) {
      throw new CheckpointError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot open (${(error as Error).message})`);
    }
    try {
      const { entries, metadata } = readHeader(file, fd);
      return new SafetensorsFile(file, fd, entries, metadata);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  /**
   * Maps one F32, F16 or BF16 tensor as stored, or returns null where this
   * process cannot map files (the caller reads it instead).
   */
  map(name: string): { values: MappedValues; shape: readonly number[]; dtype: StoredDtype } | null {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new CheckpointError(this.file, `no tensor named "${name}"`);
    const mapper = fileMapper();
    if (mapper === null || entry.dtype === 'F64' || entry.end === entry.begin) return null;
    const range = { file: this.file, begin: entry.begin, end: entry.end, dtype: entry.dtype };
    return { values: viewOf(mapper(this.fd, entry.begin, entry.end - entry.begin), range), shape: entry.shape, dtype: entry.dtype };
  }

  /** Reads one tensor as float32. */
  read(name: string): { data: Float32Array; shape: readonly number[]; dtype: StoredDtype } {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new CheckpointError(this.file, `no tensor named "${name}"`);
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    if (entry.dtype === 'F32') {
      this.readInto(new Uint8Array(data.buffer), entry.begin);
    } else {
      const elementBytes = BYTES[entry.dtype];
      const perChunk = Math.floor(CHUNK_BYTES / elementBytes);
      this.scratch ??= new Uint8Array(CHUNK_BYTES);
      const scratch = this.scratch;
      for (let done = 0; done < count; done += perChunk) {
        const n = Math.min(perChunk, count - done);
        const bytes = scratch.subarray(0, n * elementBytes);
        this.readInto(bytes, entry.begin + done * elementBytes);
        if (entry.dtype === 'F16') f16ToF32(bytes, data, done, n);
        else if (entry.dtype === 'BF16') bf16ToF32(bytes, data, done, n);
        else {
          const doubles = new Float64Array(bytes.buffer, bytes.byteOffset, n);
          for (let i = 0; i < n; i++) data[done + i] = doubles[i];
        }
      }
    }
    return { data, shape: entry.shape, dtype: entry.dtype };
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private readInto(target: Uint8Array, position: number): void {
    let done = 0;
    while (done < target.length) {
      const n = fs.readSync(this.fd, target, done, Math.min(target.length - done, 1 << 30), position + done);
      if (n === 0) throw new CheckpointError(this.file, `truncated: data ends before byte ${position + target.length}`);
      done += n;
    }
  }
}

function readHeader(file: string, fd: number): { entries: Map<string, TensorEntry>; metadata: Record<string, string> } {
  const fileSize = fs.fstatSync(fd).size;
  if (fileSize < 8) throw new CheckpointError(file, `not a safetensors file (${fileSize} bytes)`);
  const lengthBytes = Buffer.alloc(8);
  fs.readSync(fd, lengthBytes, 0, 8, 0);
  const headerLength = Number(lengthBytes.readBigUInt64LE(0));
  if (headerLength <= 1 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileSize) {
    throw new CheckpointError(file, `corrupt safetensors header (declared length ${headerLength}, file ${fileSize} bytes)`);
  }
  const headerBytes = Buffer.alloc(headerLength);
  fs.readSync(fd, headerBytes, 0, headerLength, 8);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(headerBytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new CheckpointError(file, 'corrupt safetensors header (not valid JSON)');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new CheckpointError(file, 'corrupt safetensors header (not a JSON object)');
  }
  const dataStart = 8 + headerLength;
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info?.dtype !== 'string' || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) {
      throw new CheckpointError(file, `corrupt entry for tensor ${quote(name)}`);
    }
    if (!(info.dtype in BYTES)) {
      const known = KNOWN_UNSUPPORTED.has(info.dtype);
      throw new UnsupportedError(
        `${file}: tensor ${quote(name)} has ${known ? 'unsupported' : 'unknown'} dtype ${String(info.dtype).slice(0, 32)} (supported: F32, F16, BF16, F64)`,
      );
    }
    const dtype = info.dtype as StoredDtype;
    const shape = info.shape as number[];
    const [begin, end] = info.data_offsets as number[];
    if (!shape.every((d) => Number.isInteger(d) && d >= 0) || !Number.isInteger(begin) || !Number.isInteger(end)) {
      throw new CheckpointError(file, `corrupt shape or offsets for tensor ${quote(name)}`);
    }
    const expectedBytes = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
    if (end - begin !== expectedBytes) {
      throw new CheckpointError(file, `tensor ${quote(name)} [${shape.join(', ')}] ${dtype} needs ${expectedBytes} bytes, offsets give ${end - begin}`);
    }
    if (begin < 0 || dataStart + end > fileSize) {
      throw new CheckpointError(file, `truncated: tensor ${quote(name)} ends at byte ${dataStart + end}, file has ${fileSize}`);
    }
    entries.set(name, { name, dtype, shape, begin: dataStart + begin, end: dataStart + end });
  }
  return { entries, metadata };
}

/** A tensor to write. */
export interface NamedTensor {
  data: Float32Array;
  shape: readonly number[];
}

export interface WriteOptions {
  dtype?: 'F32' | 'F16' | 'BF16';
  metadata?: Record<string, string>;
}

/** Encodes tensors (in the given order) as a complete safetensors file image, in chunks. */
export function encodeSafetensors(tensors: ReadonlyMap<string, NamedTensor> | Record<string, NamedTensor>, options: WriteOptions = {}): Uint8Array[] {
  const dtype = options.dtype ?? 'F32';
  const elementBytes = BYTES[dtype];
  const list: Array<[string, NamedTensor]> = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const [name, tensor] of list) {
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) throw new Error(`safetensors: "${name}" has ${tensor.data.length} values for shape [${tensor.shape.join(', ')}]`);
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + count * elementBytes] };
    offset += count * elementBytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const chunks: Uint8Array[] = [prefix, headerBytes];
  for (const [, tensor] of list) {
    if (dtype === 'F32') {
      chunks.push(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
      continue;
    }
    const halves = new Uint16Array(tensor.data.length);
    const convert = dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
    for (let i = 0; i < halves.length; i++) halves[i] = convert(tensor.data[i]);
    chunks.push(new Uint8Array(halves.buffer));
  }
  return chunks;
}

/** Writes a safetensors file atomically (temporary file, fsync, rename). */
export function writeSafetensors(file: string, tensors: ReadonlyMap<string, NamedTensor> | Record<string, NamedTensor>, options: WriteOptions = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, options));
}
