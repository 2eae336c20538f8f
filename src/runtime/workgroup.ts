// What a kernel's entry point needs from the device's workgroup limits, for given override values:
// the workgroup size (@workgroup_size may name overrides) and the bytes of `var<workgroup>` storage it
// statically uses (array lengths may be override expressions, e.g. attention's BK·HEAD_DIM/4).
// wgsl_reflect 1.6 folds an override-sized array length to 1 and keeps only names in
// @workgroup_size, so the declarations are read from the source text here and their expressions
// evaluated with the plan's constants. Structs are sized by wgsl_reflect.
// Types only, from the package's own types entry (the published .d.ts must not need src/wgsl.d.ts).
import type { WgslReflect } from 'wgsl_reflect';

export interface WorkgroupReflection {
  /** The three @workgroup_size expressions of the entry point ('1' where omitted). */
  sizeExprs: [string, string, string];
  /** Module-scope `var<workgroup>` the entry point (or a function it calls) uses: name and type text. */
  vars: { name: string; type: string }[];
  /** Module-scope override declarations: name → default expression (null when none). */
  overrides: Map<string, string | null>;
  /** Module-scope const declarations: name → expression. */
  consts: Map<string, string>;
  /** Struct sizes and alignments (from wgsl_reflect). */
  structs: Map<string, { size: number; align: number }>;
  /** Module-scope type aliases: name → type text (`alias V4 = vec4<f16>;`). */
  aliases: Map<string, string>;
}

export interface WorkgroupUsage {
  size: [number, number, number];
  invocations: number;
  /** Σ roundUp(16, size) over the workgroup variables used, as WebGPU counts it. */
  storageBytes: number;
  vars: { name: string; bytes: number }[];
}

function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
}

/** Splits the source into module-scope text (bodies removed) and the bodies of functions by name. */
function splitModule(src: string): { top: string; headers: { header: string; body: string }[] } {
  let top = '';
  const headers: { header: string; body: string }[] = [];
  let i = 0;
  let declStart = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ';') declStart = top.length + 1;
    if (c !== '{') {
      top += c;
      i++;
      continue;
    }
    let depth = 0;
    let j = i;
    for (; j < src.length; j++) {
      if (src[j] === '{') depth++;
      else if (src[j] === '}' && --depth === 0) break;
    }
    const header = top.slice(declStart);
    headers.push({ header, body: src.slice(i + 1, j) });
    top += ';'; // a body ends its declaration
    declStart = top.length;
    i = j + 1;
  }
  return { top, headers };
}

/** Reads what `workgroupUsage` needs from the source; cheap, done once per kernel. */
export function reflectWorkgroup(source: string, entryPoint: string, reflect: WgslReflect): WorkgroupReflection {
  const { top, headers } = splitModule(stripComments(source));
  const overrides = new Map<string, string | null>();
  const consts = new Map<string, string>();
  const allVars = new Map<string, string>();
  const aliases = new Map<string, string>();
  for (const raw of top.split(';')) {
    const decl = raw.replace(/@\w+(\([^)]*\))?/g, ' ').trim();
    let m = /^override\s+(\w+)\s*(?::[^=]+)?(?:=([\s\S]+))?$/.exec(decl);
    if (m) { overrides.set(m[1]!, m[2]?.trim() ?? null); continue; }
    m = /^const\s+(\w+)\s*(?::[^=]+)?=([\s\S]+)$/.exec(decl);
    if (m) { consts.set(m[1]!, m[2]!.trim()); continue; }
    m = /^var\s*<\s*workgroup\s*>\s*(\w+)\s*:([\s\S]+)$/.exec(decl);
    if (m) { allVars.set(m[1]!, m[2]!.trim()); continue; }
    m = /^alias\s+(\w+)\s*=([\s\S]+)$/.exec(decl);
    if (m) aliases.set(m[1]!, m[2]!.trim());
  }
  const fns = new Map<string, { header: string; body: string }>();
  for (const h of headers) {
    const m = /\bfn\s+(\w+)/.exec(h.header);
    if (m) fns.set(m[1]!, h);
  }
  const entry = fns.get(entryPoint);
  const wg = entry && /@workgroup_size\s*\(([^)]*)\)/.exec(entry.header);
  const args = wg ? splitTopLevel(wg[1]!).filter((a) => a.trim() !== '') : ['1'];
  const sizeExprs: [string, string, string] = [args[0]?.trim() ?? '1', args[1]?.trim() ?? '1', args[2]?.trim() ?? '1'];
  // Static use: the entry point and every function it calls, transitively.
  const used = new Set<string>();
  const seen = new Set<string>();
  const queue = entry ? [entryPoint] : [...fns.keys()];
  while (queue.length) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const id of fns.get(name)?.body.match(/[A-Za-z_]\w*/g) ?? []) {
      if (fns.has(id) && !seen.has(id)) queue.push(id);
      if (allVars.has(id)) used.add(id);
    }
  }
  const structs = new Map<string, { size: number; align: number }>();
  for (const s of reflect.structs) structs.set(s.name, { size: s.size, align: s.align });
  return { sizeExprs, vars: [...allVars].filter(([n]) => used.has(n)).map(([name, type]) => ({ name, type })), overrides, consts, structs, aliases };
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (c === '<' || c === '(') depth++;
    if (c === '>' || c === ')') depth--;
    if (c === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/**
 * The entry point's workgroup size and storage with `constants` as override values, or null when
 * an expression cannot be evaluated here (a missing override: pipeline creation reports that).
 */
export function workgroupUsage(w: WorkgroupReflection, constants: Record<string, number>): WorkgroupUsage | null {
  const resolving = new Set<string>();
  const lookup = (name: string): number => {
    if (name in constants && w.overrides.has(name)) return constants[name]!;
    const expr = w.overrides.has(name) ? w.overrides.get(name) : w.consts.get(name);
    if (expr === undefined || expr === null || resolving.has(name)) throw new Unresolved(name);
    resolving.add(name);
    try {
      return evaluate(expr, lookup);
    } finally {
      resolving.delete(name);
    }
  };
  try {
    const size = w.sizeExprs.map((e) => evaluate(e, lookup)) as [number, number, number];
    const vars = w.vars.map((v) => ({ name: v.name, bytes: typeLayout(v.type, lookup, w).size }));
    const storageBytes = vars.reduce((a, v) => a + Math.ceil(v.bytes / 16) * 16, 0);
    return { size, invocations: size[0] * size[1] * size[2], storageBytes, vars };
  } catch (e) {
    if (e instanceof Unresolved) return null;
    throw e;
  }
}

class Unresolved extends Error {}

const SCALAR_BYTES: Record<string, number> = { f32: 4, i32: 4, u32: 4, bool: 4, f16: 2 };
const SUFFIX_SCALAR: Record<string, string> = { f: 'f32', i: 'i32', u: 'u32', h: 'f16' };

/** WGSL size and alignment of a type written as text. */
function typeLayout(type: string, lookup: (n: string) => number, w: Pick<WorkgroupReflection, 'structs' | 'aliases'>, depth = 0): { size: number; align: number } {
  const t = type.trim();
  const alias = w.aliases.get(t);
  if (alias !== undefined && depth < 16) return typeLayout(alias, lookup, w, depth + 1);
  let m = /^array\s*<([\s\S]*)>$/.exec(t);
  if (m) {
    const [elem, count] = splitTopLevel(m[1]!);
    if (count === undefined || count.trim() === '') throw new Unresolved('runtime-sized array');
    const e = typeLayout(elem!, lookup, w, depth + 1);
    return { size: evaluate(count, lookup) * Math.ceil(e.size / e.align) * e.align, align: e.align };
  }
  m = /^atomic\s*<\s*(\w+)\s*>$/.exec(t);
  if (m) return { size: 4, align: 4 };
  m = /^vec([234])(?:\s*<\s*(\w+)\s*>|([fiuh]))$/.exec(t);
  if (m) {
    const n = Number(m[1]);
    const s = SCALAR_BYTES[m[2] ?? SUFFIX_SCALAR[m[3]!]!]!;
    return { size: n * s, align: (n === 3 ? 4 : n) * s };
  }
  m = /^mat([234])x([234])(?:\s*<\s*(\w+)\s*>|([fh]))$/.exec(t);
  if (m) {
    const [c, r] = [Number(m[1]), Number(m[2])];
    const s = SCALAR_BYTES[m[3] ?? SUFFIX_SCALAR[m[4]!]!]!;
    const align = (r === 3 ? 4 : r) * s;
    return { size: c * align, align };
  }
  if (SCALAR_BYTES[t]) return { size: SCALAR_BYTES[t]!, align: SCALAR_BYTES[t]! };
  const st = w.structs.get(t);
  if (st) return st;
  throw new Unresolved(`type ${t}`);
}

// A small evaluator for the integer expressions WGSL allows in array lengths and workgroup sizes:
// literals (decimal, hex, i/u suffixes), names, + - * / % << >> & | ^, unary - ~, parentheses, and
// min/max/clamp/abs/u32/i32/f32 calls.
const LEVELS: string[][] = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

function applyBinary(op: string, a: number, b: number): number {
  switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': if (b === 0) throw new Error('division by zero'); return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b;
    case '%': return a % b;
    case '<<': return a * 2 ** b;
    case '>>': return Math.floor(a / 2 ** b);
    case '&': return a & b;
    case '|': return a | b;
    case '^': return a ^ b;
  }
  throw new Error(`operator ${op}`);
}

function tokenize(expr: string): string[] {
  const tokens = expr.match(/0[xX][0-9a-fA-F]+[iu]?|\d+\.\d*(?:[eE][+-]?\d+)?[fh]?|\d+(?:[eE][+-]?\d+)?[iufh]?|[A-Za-z_]\w*|<<|>>|[-+*/%&|^~(),]/g) ?? [];
  if (tokens.join('') !== expr.replace(/\s+/g, '')) throw new Unresolved(`expression ${expr}`);
  return tokens;
}

function evaluate(expr: string, lookup: (name: string) => number): number {
  const tokens = tokenize(expr);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const binary = (level: number): number => {
    if (level === LEVELS.length) return unary();
    let left = binary(level + 1);
    while (LEVELS[level]!.includes(peek() ?? '')) {
      const op = next()!;
      left = applyBinary(op, left, binary(level + 1));
    }
    return left;
  };
  const unary = (): number => {
    const t = peek();
    if (t === '-') { next(); return -unary(); }
    if (t === '~') { next(); return ~unary() >>> 0; }
    return primary();
  };
  const primary = (): number => {
    const t = next();
    if (t === undefined) throw new Unresolved(`expression ${expr}`);
    if (t === '(') {
      const v = binary(0);
      if (next() !== ')') throw new Unresolved(`expression ${expr}`);
      return v;
    }
    if (/^0[xX]/.test(t)) return parseInt(t.replace(/[iu]$/, ''), 16);
    if (/^\d/.test(t)) return Number(t.replace(/[iufh]$/, ''));
    if (peek() === '(') {
      next();
      const args: number[] = [];
      if (peek() !== ')') {
        do args.push(binary(0)); while (peek() === ',' && next());
      }
      if (next() !== ')') throw new Unresolved(`expression ${expr}`);
      return call(t, args);
    }
    return lookup(t);
  };
  const v = binary(0);
  if (pos !== tokens.length) throw new Unresolved(`expression ${expr}`);
  return v;
}

function call(name: string, args: number[]): number {
  switch (name) {
    case 'min': return Math.min(...args);
    case 'max': return Math.max(...args);
    case 'clamp': return Math.min(Math.max(args[0]!, args[1]!), args[2]!);
    case 'abs': return Math.abs(args[0]!);
    case 'u32': case 'i32': return Math.trunc(args[0]!);
    case 'f32': case 'f16': return args[0]!;
  }
  throw new Unresolved(`function ${name}`);
}
