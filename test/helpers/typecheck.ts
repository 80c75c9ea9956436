/**
 * Compiling a consumer's file against kvmnet with the TypeScript compiler, as an application would
 * (strict, NodeNext): the diagnostics in that file only.
 */
import ts from 'typescript'

export function consumerDiagnostics(file: string, extra: ts.CompilerOptions = {}): readonly ts.Diagnostic[] {
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    skipLibCheck: true,
    ...extra,
  })
  return ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file)
}
