/**
 * Shader modules and compute pipelines, cached. A pipeline's key is the shader's name and a hash
 * of its text (included files and all), the entry point, the override constants and any text
 * substitutions, so every value baked into a pipeline is part of its key. WGSL compile errors are
 * reported as `file.wgsl:line:col: message` followed by the offending line and a caret, as a
 * compiler would, at the line of the file it came from (an included snippet's own line).
 */

export interface ShaderSource {
  /** File name used in messages, e.g. `conv2d.wgsl`. */
  name: string;
  /** WGSL, with `#include` lines already resolved by the build (tools/build.mjs). */
  code: string;
}

export type Overrides = Record<string, number>;

/**
 * Replaces `{{NAME}}` placeholders. Only for what an override constant cannot reach (sizes of
 * function-scope arrays); the values become part of the pipeline key.
 */
export function substitute(code: string, consts: Record<string, number | string>): string {
  return code.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!(k in consts)) throw new Error(`shader placeholder {{${k}}} has no value`);
    return String(consts[k]);
  });
}

/** Where a line of compiled WGSL came from: a file (the shader or an included snippet) and line. */
export interface Origin { file: string; line: number }

/** `//#line N "file"`: the next line is line N of file (left by the build around included files). */
const LINE_MARKER = /^\/\/#line (\d+) "([^"]+)"$/;

/**
 * The shader's text with placeholders substituted, and the origin of each of its lines. A line a
 * substitution produced (generated code) has the origin of its placeholder's line.
 */
export function expand(src: ShaderSource, consts: Record<string, number | string> = {}): { code: string; origins: Origin[] } {
  const lines: string[] = [], origins: Origin[] = [];
  let file = src.name, line = 1;
  for (const text of src.code.split('\n')) {
    const here = { file, line };
    const marker = LINE_MARKER.exec(text);
    if (marker) [line, file] = [Number(marker[1]), marker[2]];
    else line++;
    for (const out of substitute(text, consts).split('\n')) {
      lines.push(out);
      origins.push(here);
    }
  }
  return { code: lines.join('\n'), origins };
}

/**
 * Compile errors as `file:line:col: error: message`, the line and a caret. `origins` maps lines of
 * `code` to their files (see expand); without it the lines are the shader's own.
 */
export function formatCompilationMessages(src: ShaderSource, code: string, messages: readonly GPUCompilationMessage[], origins?: readonly Origin[]): string {
  const lines = code.split('\n');
  return messages
    .filter((m) => m.type === 'error')
    .map((m) => {
      const text = lines[m.lineNum - 1] ?? '';
      const at = origins?.[m.lineNum - 1] ?? { file: src.name, line: m.lineNum };
      const caret = ' '.repeat(Math.max(0, m.linePos - 1)) + '^'.repeat(Math.max(1, Math.min(m.length, text.length - m.linePos + 1)));
      return `${at.file}:${at.line}:${m.linePos}: error: ${m.message}\n  ${text}\n  ${caret}`;
    })
    .join('\n');
}

const sourceKeys = new WeakMap<ShaderSource, string>();

/**
 * The part of a pipeline key that names the shader: its name and an FNV-1a hash of its text. The
 * text holds the included snippets, so changing one changes the key of every shader that
 * includes it. Computed once per source object.
 */
export function sourceKey(src: ShaderSource): string {
  let key = sourceKeys.get(src);
  if (key === undefined) {
    let h = 0x811c9dc5;
    for (let i = 0; i < src.code.length; i++) h = Math.imul(h ^ src.code.charCodeAt(i), 0x01000193);
    key = `${src.name}#${src.code.length}:${(h >>> 0).toString(16)}`;
    sourceKeys.set(src, key);
  }
  return key;
}

const generatedCode = new Map<string, Record<string, string | number>>();

/**
 * Generated kernel code (the consts that expand() substitutes), made once per key: making it costs
 * more than recording a dispatch, and the pipeline cache keys by the consts object (constsKey), so
 * the same code must come back as the same object. `key` names the generator and everything the
 * code depends on (`maxpool|3,2`).
 */
export function generated<T extends Record<string, string | number>>(key: string, make: () => T): T {
  let code = generatedCode.get(key) as T | undefined;
  if (!code) generatedCode.set(key, (code = make()));
  return code;
}

const constsKeys = new WeakMap<object, string>();

/**
 * JSON of a consts object, computed once per object: generated kernels (the direct convs, max
 * pool) pass the same memoized object for the same code, whose text runs to thousands of lines,
 * and a dispatch must not serialize it again.
 */
function constsKey(consts: Record<string, number | string>): string {
  let key = constsKeys.get(consts);
  if (key === undefined) constsKeys.set(consts, (key = JSON.stringify(consts)));
  return key;
}

/**
 * Where every compiled module's text goes, besides the device: null (the default), or a function
 * that writes it (src/gpu/node.ts installs one when CRITDAMP_DUMP_WGSL names a folder), so the
 * generated kernels can be read as the device gets them.
 */
let dumpModule: ((name: string, code: string) => void) | null = null;

export function setShaderDump(dump: ((name: string, code: string) => void) | null): void {
  dumpModule = dump;
}

/** FNV-1a of a text, as 8 hex digits. */
export function textHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

export class ShaderCompileError extends Error {
  override name = 'ShaderCompileError';
}

export class PipelineCache {
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();

  constructor(private device: GPUDevice, private onError: (e: Error) => void) {}

  get size(): number {
    return this.pipelines.size;
  }

  private module(src: ShaderSource, consts: Record<string, number | string>): GPUShaderModule {
    const key = `${sourceKey(src)}|${constsKey(consts)}`;
    let module = this.modules.get(key);
    if (!module) {
      const { code, origins } = expand(src, consts);
      dumpModule?.(src.name, code);
      // The scope keeps Dawn's raw parse error out of the uncaptured-error path: the formatted
      // one from getCompilationInfo below is the one users should see.
      this.device.pushErrorScope('validation');
      module = this.device.createShaderModule({ label: src.name, code });
      void this.device.popErrorScope();
      this.modules.set(key, module);
      // Compilation is checked asynchronously; the first error is kept and rethrown by Engine.sync.
      module.getCompilationInfo().then((info) => {
        const text = formatCompilationMessages(src, code, info.messages, origins);
        if (text) this.onError(new ShaderCompileError(text));
      });
    }
    return module;
  }

  get(src: ShaderSource, entryPoint: string, overrides: Overrides = {}, consts: Record<string, number | string> = {}): GPUComputePipeline {
    const key = `${sourceKey(src)}|${entryPoint}|${JSON.stringify(overrides)}|${constsKey(consts)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.module(src, consts);
      p = this.device.createComputePipeline({
        label: `${src.name}:${entryPoint}`,
        layout: 'auto',
        compute: { module, entryPoint, constants: overrides },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Compiles a shader and resolves with its formatted errors (empty when it compiles). */
  async check(src: ShaderSource, consts: Record<string, number | string> = {}): Promise<string> {
    const { code, origins } = expand(src, consts);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: src.name, code });
    void this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    return formatCompilationMessages(src, code, info.messages, origins);
  }
}
