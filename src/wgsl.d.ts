declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}

// wgsl_reflect's "main" entry is CommonJS that Node cannot import by name; we import its ES module
// build directly and reuse the package's own types for it.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
