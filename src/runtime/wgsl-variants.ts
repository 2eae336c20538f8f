// Source variants of one WGSL file. Override constants specialise shapes and epilogues, but WGSL cannot
// change a binding's element type through an override: a kernel that reads vec4<f32> in one variant
// and packed 16-bit pairs (u32) in another needs two sources. Such files mark the alternatives with
// line directives, resolved here before the source reaches wgsl_reflect and the device:
//
//   //#if NAME        (or //#if !NAME)
//   //#elif NAME
//   //#else
//   //#endif
//
// Blocks nest. Every NAME a file tests must be given a value, so a typo is an error, not a silently
// dropped block.

export type VariantFlags = Readonly<Record<string, boolean>>;

interface Frame { active: boolean; taken: boolean; parentActive: boolean; line: number; sawElse: boolean }

const DIRECTIVE = /^\s*\/\/#(if|elif|else|endif)\b\s*(.*?)\s*$/;

/** Resolves the `//#if` blocks of `source` with `flags`; `name` is used in error messages. */
export function selectVariant(source: string, flags: VariantFlags, name = 'shader'): string {
  const lines = source.split('\n');
  const out: string[] = [];
  const stack: Frame[] = [];
  const active = () => stack.length === 0 || stack[stack.length - 1]!.active;
  const test = (expr: string, line: number): boolean => {
    const m = /^(!?)([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (!m) throw new Error(`${name}:${line}: '//#if ${expr}': expected NAME or !NAME`);
    const value = flags[m[2]!];
    if (value === undefined) throw new Error(`${name}:${line}: variant flag '${m[2]}' is not set (given: ${Object.keys(flags).join(', ') || 'none'})`);
    return m[1] === '!' ? !value : value;
  };
  lines.forEach((text, i) => {
    const line = i + 1;
    const d = DIRECTIVE.exec(text);
    if (!d) {
      if (active()) out.push(text);
      return;
    }
    const [, kind, expr] = d as unknown as [string, string, string];
    if (kind === 'if') {
      const parentActive = active();
      const v = test(expr, line);
      stack.push({ active: parentActive && v, taken: v, parentActive, line, sawElse: false });
      return;
    }
    const top = stack[stack.length - 1];
    if (!top) throw new Error(`${name}:${line}: '//#${kind}' without '//#if'`);
    if (kind === 'endif') {
      stack.pop();
      return;
    }
    if (top.sawElse) throw new Error(`${name}:${line}: '//#${kind}' after '//#else' (block opened at line ${top.line})`);
    if (kind === 'elif') {
      const v = test(expr, line);
      top.active = top.parentActive && !top.taken && v;
      top.taken ||= v;
    } else {
      if (expr !== '') throw new Error(`${name}:${line}: '//#else' takes no condition`);
      top.active = top.parentActive && !top.taken;
      top.taken = true;
      top.sawElse = true;
    }
  });
  if (stack.length > 0) throw new Error(`${name}: '//#if' at line ${stack[stack.length - 1]!.line} has no '//#endif'`);
  return out.join('\n');
}
