/**
 * Typed errors. A user error (bad file, bad shape, bad argument) is an
 * {@link ElderError}: the CLI prints its message as one line and exits
 * non-zero; anything else is a bug and keeps its stack trace.
 */
export class ElderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Tensor shapes that do not fit an op or a checkpoint. */
export class ShapeError extends ElderError {}

/** A checkpoint folder or file that is missing, malformed or unsupported. */
export class CheckpointError extends ElderError {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** A configuration the code does not support (model_type, dtype, rope scaling…). */
export class UnsupportedError extends ElderError {}

/** Command-line or API arguments that are missing or invalid. */
export class UsageError extends ElderError {}

/** Input text that cannot be processed (e.g. longer than the context window). */
export class InputError extends ElderError {}

/** NaN or infinity where a finite number is required. */
export class NonFiniteError extends ElderError {}

/** A value from outside, quoted for an error message and cut so that one line stays readable. */
export function quote(value: unknown, max = 60): string {
  const text = String(value);
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** Work that needs more memory than this machine has available. */
export class ResourceError extends ElderError {}
