// WGSL files reach the code as text through esbuild's text loader (tools/build.mjs), in Node and
// browser bundles alike.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
