/** A 200 KB context in the shape Aider sends: several source files, fenced, with a few secrets and emails. */
export function codeContext(): string {
  const files: string[] = [];
  for (let f = 0; files.join('').length < 200 * 1024; f++) {
    const lines = [`// src/module${f}.ts`, `import { db } from './db';`, `const OWNER = 'owner${f}@example-corp.com';`];
    for (let i = 0; i < 40; i++) {
      lines.push(`export async function handler${f}_${i}(req: Request): Promise<Response> {`, `  const id = req.headers.get('x-id') ?? 'anon';`, `  const rows = await db.query('select * from t${i} where id = $1', [id]);`, `  return Response.json({ ok: true, count: rows.length, sha: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });`, '}');
    }
    if (f % 3 === 0) lines.push(`const token = '${['ghp', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'].join('_')}';`);
    files.push(`src/module${f}.ts\n\`\`\`typescript\n${lines.join('\n')}\n\`\`\`\n`);
  }
  return files.join('\n');
}
