/**
 * Tensors on Float32Array with a minimal reverse-mode autograd.
 *
 * Every op lives in `ops/` with its forward and its backward side by side. An
 * op that has an input needing a gradient records a {@link GradNode} on its
 * output; {@link backward} replays those nodes in reverse topological order.
 * Base-model weights are plain tensors with `requiresGrad = false`, so a
 * frozen model records nothing and costs nothing extra.
 */
import { ShapeError } from '../util/errors.js';
import { allocate, allocateForOverwrite } from './buffers.js';
import { countMaterialized, decodeHalf, type HalfStorage } from './half.js';

/** How an op's output sends its gradient back to its inputs. */
export interface GradNode {
  readonly inputs: readonly Tensor[];
  /** Receives d(loss)/d(output) and accumulates into the inputs' gradients. */
  backward(outputGrad: Float32Array): void;
}

let gradEnabled = true;

/** Runs `fn` without recording gradients (inference, frozen prefixes). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export class Tensor {
  /** The float32 values; null while a half-precision weight has only its stored bits. */
  private values: Float32Array | null;
  /**
   * A frozen weight's stored half-precision bits, read by the kernels that
   * convert as they go; null once anything asked for {@link data} (from then
   * on the tensor holds, and is changed through, a private float32 copy).
   */
  half: HalfStorage | null = null;
  readonly shape: readonly number[];
  /** Leaves set this to ask for `.grad`; op outputs inherit it from their inputs. */
  requiresGrad: boolean;
  /** d(loss)/d(this), allocated on first accumulation. */
  grad: Float32Array | null = null;
  gradNode: GradNode | null = null;

  constructor(data: Float32Array | HalfStorage, shape: readonly number[], requiresGrad = false) {
    const size = shapeSize(shape);
    const length = data instanceof Float32Array ? data.length : data.bits.length;
    if (length !== size) {
      throw new ShapeError(`tensor data has ${length} elements, shape [${shape.join(', ')}] needs ${size}`);
    }
    if (data instanceof Float32Array) this.values = data;
    else {
      this.values = null;
      this.half = data;
    }
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
  }

  /** The values as float32 (a half-precision weight is copied to float32 on first use, and kept so). */
  get data(): Float32Array {
    return this.values ?? this.materialize();
  }

  private materialize(): Float32Array {
    const half = this.half!;
    const values = new Float32Array(half.bits.length);
    decodeHalf(half.bits, half.dtype, 0, values.length, values);
    countMaterialized(values.length);
    this.values = values;
    this.half = null;
    return values;
  }

  static zeros(shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(allocate(shapeSize(shape)), shape, requiresGrad);
  }

  /** A tensor whose every element the caller writes before any is read (its contents are undefined until then). */
  static forOverwrite(shape: readonly number[]): Tensor {
    return new Tensor(allocateForOverwrite(shapeSize(shape)), shape);
  }

  static from(values: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(Float32Array.from(values), shape, requiresGrad);
  }

  get size(): number {
    return (this.values ?? this.half!.bits).length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Bytes the values take as held: 2 each while a half-precision weight keeps its stored bits, else 4. */
  get heldBytes(): number {
    return this.size * (this.values === null ? 2 : 4);
  }

  /** Size of the last dimension. */
  get lastDim(): number {
    return this.shape[this.shape.length - 1] ?? 1;
  }

  /** Product of all dimensions but the last: the number of rows of a [rows, lastDim] view. */
  get rows(): number {
    return this.size / this.lastDim;
  }

  /** The gradient buffer, allocated (zeroed) on first use. */
  gradBuffer(): Float32Array {
    if (this.grad === null) this.grad = newGradBuffer(this);
    return this.grad;
  }

  zeroGrad(): void {
    this.grad?.fill(0);
  }

  /** Same data, another shape; gradients flow through unchanged. */
  reshape(shape: readonly number[]): Tensor {
    const resolved = resolveShape(shape, this.size);
    const out = new Tensor(this.data, resolved);
    recordGrad(out, [this], (outputGrad) => accumulateGrad(this, outputGrad));
    return out;
  }

  /** The same values without the graph (no grad); a half-precision weight stays half. */
  detach(): Tensor {
    return new Tensor(this.values ?? this.half!, this.shape);
  }

  clone(): Tensor {
    return new Tensor(this.values?.slice() ?? { bits: this.half!.bits.slice(), dtype: this.half!.dtype }, this.shape);
  }

  item(): number {
    if (this.size !== 1) throw new ShapeError(`item() needs one element, tensor has ${this.size}`);
    return this.data[0];
  }
}

export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0) throw new ShapeError(`invalid dimension ${dim} in shape [${shape.join(', ')}]`);
    size *= dim;
  }
  return size;
}

function resolveShape(shape: readonly number[], size: number): number[] {
  const inferred = shape.indexOf(-1);
  if (inferred < 0) {
    if (shapeSize(shape) !== size) throw new ShapeError(`cannot reshape ${size} elements to [${shape.join(', ')}]`);
    return [...shape];
  }
  const known = shape.reduce((product, dim, i) => (i === inferred ? product : product * dim), 1);
  if (known === 0 || size % known !== 0) throw new ShapeError(`cannot reshape ${size} elements to [${shape.join(', ')}]`);
  const resolved = [...shape];
  resolved[inferred] = size / known;
  return resolved;
}

/**
 * A gradient buffer for `t`: a leaf's (a parameter's) outlives the step, so
 * only intermediate tensors' come from a buffer pool. Zeroed unless the
 * caller overwrites all of it (`zeroed` false).
 */
function newGradBuffer(t: Tensor, zeroed = true): Float32Array {
  if (t.gradNode === null) return new Float32Array(t.size);
  return zeroed ? allocate(t.size) : allocateForOverwrite(t.size);
}

/** True when an op over these inputs must record a gradient node. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  return gradEnabled && inputs.some((t) => t.requiresGrad);
}

/** Attaches a backward to `output` if any input needs a gradient. */
export function recordGrad(output: Tensor, inputs: readonly Tensor[], backward: (outputGrad: Float32Array) => void): void {
  if (!needsGrad(inputs)) return;
  output.requiresGrad = true;
  output.gradNode = { inputs, backward };
}

/** grad(t) += delta, allocating on first use; ignored for tensors that need no gradient. */
export function accumulateGrad(t: Tensor, delta: Float32Array): void {
  if (!t.requiresGrad) return;
  if (t.grad === null) {
    t.grad = newGradBuffer(t, false);
    t.grad.set(delta);
    return;
  }
  const grad = t.grad;
  for (let i = 0; i < grad.length; i++) grad[i] += delta[i];
}

/**
 * Back-propagates from a scalar `loss` (seed 1) or from any tensor with an
 * explicit seed gradient. Gradients of intermediate tensors are released as
 * soon as they have been propagated; leaves keep theirs in `.grad`.
 */
export function backward(output: Tensor, seed?: Float32Array): void {
  if (!output.requiresGrad) throw new Error('backward: output does not depend on any tensor that requires a gradient');
  if (seed === undefined) {
    if (output.size !== 1) throw new ShapeError('backward: a non-scalar output needs an explicit seed gradient');
    seed = new Float32Array([1]);
  }
  accumulateGrad(output, seed);

  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep models would overflow a recursive one.
  const stack: Array<{ tensor: Tensor; expanded: boolean }> = [{ tensor: output, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      order.push(top.tensor);
      continue;
    }
    if (visited.has(top.tensor)) continue;
    visited.add(top.tensor);
    stack.push({ tensor: top.tensor, expanded: true });
    for (const input of top.tensor.gradNode?.inputs ?? []) {
      if (input.requiresGrad && !visited.has(input)) stack.push({ tensor: input, expanded: false });
    }
  }

  for (let i = order.length - 1; i >= 0; i--) {
    const tensor = order[i];
    const node = tensor.gradNode;
    if (node === null) continue;
    if (tensor.grad !== null) node.backward(tensor.grad);
    tensor.gradNode = null;
    tensor.grad = null;
  }
}

/**
 * Where a backward kernel that accumulates (sgemm with beta) should write:
 * straight into the gradient, with beta 0 when the buffer is new.
 */
export function gradSlot(t: Tensor): { grad: Float32Array; beta: 0 | 1 } {
  if (t.grad !== null) return { grad: t.grad, beta: 1 };
  // Beta 0 overwrites whatever a pooled buffer held.
  t.grad = newGradBuffer(t, false);
  return { grad: t.grad, beta: 0 };
}

/** For backward kernels that overwrite their output: writes in place when the gradient is new, else adds. */
export function writeGrad(t: Tensor, write: (target: Float32Array) => void): void {
  if (!t.requiresGrad) return;
  if (t.grad === null) {
    t.grad = newGradBuffer(t, false);
    write(t.grad);
    return;
  }
  const scratch = allocateForOverwrite(t.size);
  write(scratch);
  const grad = t.grad;
  for (let i = 0; i < grad.length; i++) grad[i] += scratch[i];
}
