/**
 * Shape and dtype checks, run before anything is dispatched. Errors name the op, the input and
 * both shapes, as TF.js's kernels do.
 */
import { shapeStr, type Tensor, type DType } from '../tensor';

export class ShapeError extends Error {
  override name = 'ShapeError';
}

export function expectRank(op: string, input: string, t: Tensor, rank: number, layout: string): void {
  if (t.shape.length !== rank) {
    throw new ShapeError(`${op}: ${input} must be ${rank}-D ${layout}, got shape ${shapeStr(t.shape)}`);
  }
}

export function expectShape(op: string, input: string, t: Tensor, expected: readonly number[], why = ''): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${op}: ${input} has shape ${shapeStr(t.shape)}, expected ${shapeStr(expected)}${why ? ` (${why})` : ''}`);
  }
}

export function expectDtype(op: string, input: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw new ShapeError(`${op}: ${input} must be ${dtype}, got ${t.dtype}`);
}

export function expectSameShape(op: string, a: string, ta: Tensor, b: string, tb: Tensor): void {
  if (ta.shape.length !== tb.shape.length || ta.shape.some((d, i) => d !== tb.shape[i])) {
    throw new ShapeError(`${op}: ${a} ${shapeStr(ta.shape)} and ${b} ${shapeStr(tb.shape)} must have the same shape`);
  }
}
