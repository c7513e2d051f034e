/**
 * Shader modules and compute pipelines, cached. A pipeline's key is the shader's name, the entry
 * point, the override constants and any text substitutions, so every value baked into a pipeline
 * is part of its key. WGSL compile errors are reported as `file.wgsl:line:col: message` followed by
 * the offending line and a caret, as a compiler would.
 */

export interface ShaderSource {
  /** File name used in messages, e.g. `conv2d.wgsl`. */
  name: string;
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

export function formatCompilationMessages(src: ShaderSource, code: string, messages: readonly GPUCompilationMessage[]): string {
  const lines = code.split('\n');
  return messages
    .filter((m) => m.type === 'error')
    .map((m) => {
      const text = lines[m.lineNum - 1] ?? '';
      const caret = ' '.repeat(Math.max(0, m.linePos - 1)) + '^'.repeat(Math.max(1, Math.min(m.length, text.length - m.linePos + 1)));
      return `${src.name}:${m.lineNum}:${m.linePos}: error: ${m.message}\n  ${text}\n  ${caret}`;
    })
    .join('\n');
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

  private module(src: ShaderSource, consts: Record<string, number | string>): { module: GPUShaderModule; key: string } {
    const code = substitute(src.code, consts);
    const key = `${src.name}|${JSON.stringify(consts)}`;
    let module = this.modules.get(key);
    if (!module) {
      // The scope keeps Dawn's raw parse error out of the uncaptured-error path: the formatted
      // one from getCompilationInfo below is the one users should see.
      this.device.pushErrorScope('validation');
      module = this.device.createShaderModule({ label: src.name, code });
      void this.device.popErrorScope();
      this.modules.set(key, module);
      // Compilation is checked asynchronously; the first error is kept and rethrown by Engine.sync.
      module.getCompilationInfo().then((info) => {
        const text = formatCompilationMessages(src, code, info.messages);
        if (text) this.onError(new ShaderCompileError(text));
      });
    }
    return { module, key };
  }

  get(src: ShaderSource, entryPoint: string, overrides: Overrides = {}, consts: Record<string, number | string> = {}): GPUComputePipeline {
    const key = `${src.name}|${entryPoint}|${JSON.stringify(overrides)}|${JSON.stringify(consts)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const { module } = this.module(src, consts);
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
    const code = substitute(src.code, consts);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: src.name, code });
    void this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    return formatCompilationMessages(src, code, info.messages);
  }
}
