import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ts from 'typescript';

/**
 * Request bodies built from an SDK's own TypeScript declarations: every property of the request type (optional
 * ones included, every member of every union, recursively) appears in at least one body, and every
 * `string`-typed leaf holds a value from `leaf(path)`. Literal types keep their literal, so the bodies have
 * the structure the API expects. This is how a test reaches fields nobody listed by hand.
 */
export interface ShapeOptions {
  /** The value for a string leaf at this path (`messages[].content[].text`). */
  leaf: (path: string) => string;
  /** Deeper than this, objects are left empty (recursive schema types). */
  maxDepth?: number;
}

export function sdkSamples(pkg: string, declarations: string, typeName: string, opts: ShapeOptions): Record<string, unknown>[] {
  const module = `${pkg}/${declarations}`;
  const file = join(packageDir(pkg), declarations);
  const program = ts.createProgram([file], { strict: true, skipLibCheck: true, noEmit: true, target: ts.ScriptTarget.ES2022, moduleResolution: ts.ModuleResolutionKind.Node10 });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`cannot read ${file}`);
  let declared: ts.Type | undefined;
  ts.forEachChild(source, (node) => {
    if ((ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) && node.name.text === typeName) {
      declared = checker.getTypeAtLocation(node.name);
    }
  });
  if (!declared) throw new Error(`${typeName} not found in ${module}`);
  const maxDepth = opts.maxDepth ?? 14;

  /** Samples of a type: each a JSON value; together they cover every member and every union variant. */
  const samples = (type: ts.Type, path: string, depth: number): unknown[] => {
    const flags = type.flags;
    if (flags & ts.TypeFlags.StringLiteral) return [(type as ts.StringLiteralType).value];
    if (flags & ts.TypeFlags.NumberLiteral) return [(type as ts.NumberLiteralType).value];
    if (flags & ts.TypeFlags.BooleanLiteral) return [checker.typeToString(type) === 'true'];
    if (flags & (ts.TypeFlags.String | ts.TypeFlags.TemplateLiteral)) return [opts.leaf(path)];
    if (flags & ts.TypeFlags.Number) return [1];
    if (flags & ts.TypeFlags.Boolean) return [true];
    if (flags & (ts.TypeFlags.Unknown | ts.TypeFlags.Any)) return [opts.leaf(path)];
    if (flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined | ts.TypeFlags.Void | ts.TypeFlags.Never)) return [];
    if (type.isUnion()) {
      // `boolean` is a union of its two literals; enums of literals give their first member.
      const members = type.types.filter((t) => !(t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)));
      if (members.every((t) => t.flags & (ts.TypeFlags.StringLiteral | ts.TypeFlags.NumberLiteral | ts.TypeFlags.BooleanLiteral))) return samples(members[0]!, path, depth);
      return members.flatMap((t) => samples(t, path, depth));
    }
    if (checker.isArrayType(type) || checker.isTupleType(type)) {
      const element = checker.getTypeArguments(type as ts.TypeReference)[0];
      // One array holds every sample of its element type.
      return element ? [samples(element, `${path}[]`, depth + 1)] : [[]];
    }
    // `string & {}` (how SDKs type an open set of names, such as models) is a string.
    if (type.isIntersection() && type.types.some((t) => t.flags & ts.TypeFlags.String)) return [opts.leaf(path)];
    if (flags & ts.TypeFlags.Object || type.isIntersection()) {
      if (depth > maxDepth) return [{}];
      const props = checker.getPropertiesOfType(type).filter((p) => !isFunctionLike(checker, p));
      const perProp = props.map((p) => {
        const t = checker.getNonNullableType(checker.getTypeOfSymbol(p));
        return { name: p.name, values: samples(t, path ? `${path}.${p.name}` : p.name, depth + 1) };
      });
      const index = checker.getIndexInfoOfType(type, ts.IndexKind.String);
      if (index) perProp.push({ name: 'extra_member', values: samples(index.type, `${path}.*`, depth + 1) });
      const count = Math.max(1, ...perProp.map((p) => p.values.length));
      // Sample i takes each property's (i mod n)-th sample: every variant appears in some sample.
      const out: Record<string, unknown>[] = [];
      for (let i = 0; i < Math.min(count, 4096); i++) {
        const obj: Record<string, unknown> = {};
        for (const p of perProp) if (p.values.length > 0) obj[p.name] = p.values[i % p.values.length];
        out.push(obj);
      }
      return out;
    }
    return [];
  };
  return samples(declared, '', 0).filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null && !Array.isArray(s));
}

/** The folder of an installed package (its `exports` may hide package.json and the declaration files from resolve). */
function packageDir(pkg: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(pkg));
  while (!existsSync(join(dir, 'package.json')) || !dir.endsWith(pkg.split('/').pop()!)) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of ${pkg}`);
    dir = up;
  }
  return dir;
}

function isFunctionLike(checker: ts.TypeChecker, p: ts.Symbol): boolean {
  return checker.getTypeOfSymbol(p).getCallSignatures().length > 0;
}
