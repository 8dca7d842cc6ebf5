// Real clients against the gateway: Claude Code (`claude -p`) and Codex (`codex exec`), each driving a tool
// loop through `kt gateway run` to the project's fake upstream, then meeting each kind of refusal (an input block,
// a streamed output block, a spent hard budget) with its default retry settings: exactly one request and one
// decision event per refusal, and the text the client prints is quoted at the end (README, docs/policies.md).
// Then across formats: Codex on a gateway whose only target speaks Anthropic Messages, Claude Code on one whose
// only target speaks OpenAI chat, each with a tool loop (docs/configuration.md, "Clients on a target of another format").
// Run after `npm run build` in the project root:
//   npm --prefix e2e-clients ci && node e2e-clients/run.mjs
import { spawn } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('node_modules/.bin/', import.meta.url));
const { startFakeUpstream } = await import(`${ROOT}dist/testing/fake-upstream.js`);
// A synthetic token the tools print, so the tool result carries a secret back through the gateway.
const TOKEN = ['ghp', 'Zr4Kp8Wm2Qx6Tn0Vb3Hy7Lc1Jd5Fs9Ga4Ue2'].join('_');
// A key the model "answers" with, which an output policy blocks mid-stream.
const LIVE_KEY = ['sk', 'live', '51Hc8YzKq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6Lm8No'].join('_');
/** What each client printed for each refusal, quoted at the end. */
const shown = [];

let failed = 0;
let passed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || !detail ? '' : `\n     ${detail.slice(0, 2000).replaceAll('\n', '\n     ')}`}\n`);
}

async function gateway(config, port) {
  await freePortAgain(port);
  const dir = mkdtempSync(join(tmpdir(), 'kt-e2e-clients-'));
  const file = join(dir, 'policy-config.yaml');
  writeFileSync(file, config);
  const dataDir = join(dir, 'data');
  const child = spawn(process.execPath, [`${ROOT}dist/cli/main.js`, 'gateway', 'run', '-c', file, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', '--data-dir', dataDir], { stdio: ['ignore', 'inherit', 'inherit'] });
  child.dataDir = dataDir;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return child;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway did not start');
}

/** A gateway on this port was stopped just before: wait until the port answers no more. */
async function freePortAgain(port) {
  for (let i = 0; i < 50; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stop a gateway and read its decision events with the real CLI. */
async function stopAndReadEvents(gw) {
  gw.kill('SIGTERM');
  await new Promise((r) => gw.once('exit', r));
  const tail = spawnSync(process.execPath, [`${ROOT}dist/cli/main.js`, 'events', 'tail', '--no-follow', '--json', '--limit', '1000', '--data-dir', gw.dataDir], { encoding: 'utf8' });
  return tail.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.route !== 'count_tokens');
}

const inferenceCalls = (fake) => fake.requests.filter((r) => r.family === 'messages' || r.family === 'chat' || r.family === 'responses').length;

/** The lines a client printed about the refusal (its error line), without the banner around them. */
function refusalLines(out) {
  return [...new Set(out.split('\n').map((l) => l.trim()).filter((l) => /keeptrusts (blocked|withheld|stopped|held)/.test(l)))].join('\n');
}

/**
 * One refusal, met by a real client with its default retry settings: the gateway answers it once (one decision
 * event, `upstream` calls reaching the provider), the client stops and says why.
 */
async function refusal(client, kind, { config, port, fake, exec, before, upstream, code }) {
  const gw = await gateway(config, port);
  if (before) await before();
  const startedAt = Date.now();
  const callsBefore = inferenceCalls(fake);
  const res = await exec();
  const calls = inferenceCalls(fake) - callsBefore;
  const events = (await stopAndReadEvents(gw)).filter((e) => Date.parse(e.ts) >= startedAt - 5);
  const refused = events.filter((e) => e.reason_code === code);
  const text = refusalLines(res.out);
  shown.push({ client, kind, text, rc: res.code, calls, events: events.length });
  check(`${client} ${kind}: one request, one event (${events.length} events, ${refused.length} ${code}, ${calls} upstream calls, expected ${upstream})`, events.length === 1 && refused.length === 1 && calls === upstream, JSON.stringify(events.map((e) => [e.status, e.reason_code])) + '\n' + res.out.slice(-1500));
  check(`${client} ${kind}: the client shows the refusal and stops (rc ${res.code})`, res.code !== 0 && text.includes(code === 'budget_exceeded' ? 'budget' : 'keeptrusts') && text.includes(refused[0]?.id ?? 'no event'), res.out.slice(-1500));
  // The client may echo the developer's own prompt; what the gateway said must not hold a secret.
  check(`${client} ${kind}: no secret in the refusal the client printed`, !text.includes(TOKEN) && !res.out.includes(LIVE_KEY.slice(8)));
  return { events, res };
}

/** Stop the gateway, then read its decision events and verify its chain with the real CLI, as a user would. */
async function checkEvents(gw, client, upstreamCalls, who) {
  gw.kill('SIGTERM');
  await new Promise((r) => gw.once('exit', r));
  const kt = (...args) => spawnSync(process.execPath, [`${ROOT}dist/cli/main.js`, ...args, '--data-dir', gw.dataDir], { encoding: 'utf8' });
  const tail = kt('events', 'tail', '--no-follow', '--json', '--limit', '1000');
  const events = tail.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const inference = events.filter((e) => e.route !== 'count_tokens');
  check(`${client}: one decision event per upstream call (${inference.length} events, ${upstreamCalls} calls)`, inference.length === upstreamCalls, tail.stderr + tail.stdout.slice(0, 500));
  check(`${client}: attribution headers arrived (${who.developer}, ${who.repository})`, inference.every((e) => e.identity.developer === who.developer && e.identity.repository === who.repository && e.identity.source.developer === 'header'), JSON.stringify(inference.map((e) => e.identity)));
  check(`${client}: usage and cost metered on every event`, inference.every((e) => e.usage && e.usage.output_tokens > 0), JSON.stringify(inference.map((e) => e.usage)));
  // The clients' own traffic (system prompts, tool definitions, tool results, harness notes) is benign: a
  // prompt-injection finding on it is a false positive every user of that client would meet on every turn.
  const injection = inference.flatMap((e) => (e.policies ?? []).filter((p) => p.kind === 'prompt-injection' && p.verdict !== 'allow'));
  const scanned = inference.every((e) => (e.policies ?? []).some((p) => p.kind === 'prompt-injection'));
  check(`${client}: prompt-injection scanned every turn and found nothing in the client's own traffic`, scanned && injection.length === 0, JSON.stringify(injection));
  check(`${client}: events name the client and the redaction`, inference.every((e) => e.identity.client === client) && events.some((e) => e.redactions.length > 0), JSON.stringify(events.map((e) => [e.identity.client, e.verdict])));
  const files = readdirSync(gw.dataDir, { recursive: true }).map((f) => join(gw.dataDir, f)).filter((f) => { try { return readFileSync(f) && true; } catch { return false; } });
  check(`${client}: no raw token anywhere in the data dir`, files.every((f) => !readFileSync(f).toString('latin1').includes(TOKEN)));
  const verify = kt('events', 'verify');
  check(`${client}: kt events verify passes`, verify.status === 0, verify.stdout + verify.stderr);
}

/** A gateway that blocks secrets both ways and has a spent-after-one-request daily budget for developer broke-dev. */
function refusalConfig(targets) {
  return `pack: {name: refusals, version: "1"}
policies: {chain: [code-sanitizer, audit-logger]}
policy:
  code-sanitizer: {block_on_match: true}
budgets:
  - {scope: developer, match: broke-dev, limit_usd: 0.000001, period: day, mode: hard}
providers:
  ${targets}
`;
}

// Asynchronous on purpose: the fake upstream lives in this process, so a blocking spawn would starve it.
function run(cmd, args, env, cwd) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

// ---- Claude Code ----
{
  const fake = await startFakeUpstream({ toolName: 'Bash', toolInput: { command: `echo claude-tool-ran ${TOKEN}`, description: 'echo' } });
  const gw = await gateway(`pack: {name: cc, version: "1"}\npolicies: {chain: [pii-detector, code-sanitizer, prompt-injection, quality-scorer, dlp-filter, safety-filter, audit-logger]}\nproviders:\n  targets: [{id: anthropic, provider: anthropic, base_url: "${fake.url}"}]\n`, 41301);
  const home = mkdtempSync(join(tmpdir(), 'kt-cc-home-'));
  const env = {
    HOME: home,
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:41301',
    ANTHROPIC_API_KEY: 'sk-ant-e2e-dummy',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_MAX_RETRIES: '1',
    DISABLE_TELEMETRY: '1',
    // Attribution as docs/attribution.md tells Claude Code users to send it.
    ANTHROPIC_CUSTOM_HEADERS: 'x-keeptrusts-developer: cc-dev\nx-keeptrusts-repository: acme/claude',
  };
  const hi = await run(`${BIN}claude`, ['-p', 'say hi', '--output-format', 'json'], env, home);
  check('claude -p answers through the gateway', hi.code === 0 && hi.out.includes('Hello from fake upstream!'), hi.out);
  const msgs = fake.requests.filter((r) => r.family === 'messages');
  let calls = fake.requests.filter((r) => r.family === 'messages' || r.family === 'chat' || r.family === 'responses').length;
  check('claude used /v1/messages?beta=true with streaming and event lines kept (no non-streaming retry)', msgs.length > 0 && msgs.every((r) => r.query.beta === 'true' && r.body.stream === true), JSON.stringify(msgs.map((r) => [r.url, r.body.stream])));
  check('claude x-api-key reached the upstream', msgs.every((r) => r.headers['x-api-key'] === 'sk-ant-e2e-dummy'));
  fake.reset();
  const tool = await run(`${BIN}claude`, ['-p', 'TOOLTEST run the command', '--allowedTools', 'Bash', '--output-format', 'json'], env, home);
  const last = fake.requests.filter((r) => r.family === 'messages').at(-1);
  const lastText = JSON.stringify(last?.body?.messages ?? []);
  check('claude tool loop: Bash ran and its tool_result went back through the gateway', tool.code === 0 && lastText.includes('tool_result') && lastText.includes('claude-tool-ran'), tool.out);
  check('claude tool loop: the token in the tool result was redacted before it left', !lastText.includes(TOKEN.slice(4)) && lastText.includes('[REDACTED:SECRET]'), lastText.slice(0, 500));
  calls += fake.requests.filter((r) => r.family === 'messages' || r.family === 'chat' || r.family === 'responses').length;
  await checkEvents(gw, 'claude-code', calls, { developer: 'cc-dev', repository: 'acme/claude' });

  // Refusals, with Claude Code's own retry settings (it retried a 409 eleven times over three minutes).
  const { CLAUDE_CODE_MAX_RETRIES: _retries, ...defaults } = env;
  const config = refusalConfig(`targets: [{id: anthropic, provider: anthropic, base_url: "${fake.url}"}]`);
  const claude = (prompt, developer, port) => () =>
    run(`${BIN}claude`, ['-p', prompt], { ...defaults, ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`, ANTHROPIC_CUSTOM_HEADERS: `x-keeptrusts-developer: ${developer}\nx-keeptrusts-repository: acme/claude` }, home);
  fake.reset();
  await refusal('claude-code', 'input block', { config, port: 41303, fake, exec: claude(`deploy with ${TOKEN} please`, 'cc-dev', 41303), upstream: 0, code: 'input_blocked' });
  fake.setReplyText(`Here is the key you asked for: ${LIVE_KEY} and more text after it.`);
  await refusal('claude-code', 'output block (streamed)', { config, port: 41304, fake, exec: claude('what is the key?', 'cc-dev', 41304), upstream: 1, code: 'output_blocked' });
  fake.reset();
  await refusal('claude-code', 'budget stop', { config, port: 41305, fake, before: claude('say hi', 'broke-dev', 41305), exec: claude('say hi again', 'broke-dev', 41305), upstream: 0, code: 'budget_exceeded' });
  await fake.close();

  // A tool call whose arguments carry the key: blocked mid-stream, and the tool never runs.
  const marker = join(home, 'blocked-tool-ran');
  const toolFake = await startFakeUpstream({ toolName: 'Bash', toolInput: { command: `touch ${marker}; echo ${LIVE_KEY}`, description: 'echo' } });
  const toolConfig = refusalConfig(`targets: [{id: anthropic, provider: anthropic, base_url: "${toolFake.url}"}]`);
  await refusal('claude-code', 'output block in a tool call (streamed)', {
    config: toolConfig,
    port: 41309,
    fake: toolFake,
    exec: () => run(`${BIN}claude`, ['-p', 'TOOLTEST run it', '--allowedTools', 'Bash'], { ...defaults, ANTHROPIC_BASE_URL: 'http://127.0.0.1:41309' }, home),
    upstream: 1,
    code: 'output_blocked',
  });
  check('claude-code: the blocked tool call did not run', !existsSync(marker));
  await toolFake.close();
}

// ---- Codex ----
{
  const fake = await startFakeUpstream({ toolName: 'exec_command', toolInput: { cmd: `echo codex-tool-ran ${TOKEN}` } });
  const gw = await gateway(`pack: {name: codex, version: "1"}\npolicies: {chain: [pii-detector, code-sanitizer, prompt-injection, quality-scorer, dlp-filter, safety-filter, audit-logger]}\nproviders:\n  targets: [{id: openai, provider: openai-compatible, base_url: "${fake.url}/v1"}]\n`, 41302);
  const home = mkdtempSync(join(tmpdir(), 'kt-codex-home-'));
  writeFileSync(
    join(home, 'config.toml'),
    `model = "gpt-5"\nmodel_provider = "keeptrusts"\n[model_providers.keeptrusts]\nname = "keeptrusts"\nbase_url = "http://127.0.0.1:41302/v1"\nenv_key = "KT_E2E_KEY"\nwire_api = "responses"\nhttp_headers = { "x-keeptrusts-developer" = "codex-dev", "x-keeptrusts-repository" = "acme/codex" }\n`,
  );
  const env = { HOME: home, CODEX_HOME: home, KT_E2E_KEY: 'sk-codex-e2e' };
  const hi = await run(`${BIN}codex`, ['exec', '--skip-git-repo-check', 'say hi'], env, home);
  check('codex exec answers through the gateway', hi.code === 0 && hi.out.includes('Hello from fake upstream!'), hi.out);
  const reqs = fake.requests.filter((r) => r.family === 'responses');
  let calls = fake.requests.filter((r) => r.family === 'messages' || r.family === 'chat' || r.family === 'responses').length;
  check('codex streamed /v1/responses with its Bearer key', reqs.length > 0 && reqs.every((r) => r.body.stream === true && r.headers.authorization === 'Bearer sk-codex-e2e'));
  check('codex namespace tools and developer input passed through', reqs.some((r) => JSON.stringify(r.body.tools ?? []).includes('"namespace"') || JSON.stringify(r.body.input ?? []).includes('"developer"')));
  fake.reset();
  const tool = await run(`${BIN}codex`, ['exec', '--skip-git-repo-check', 'TOOLTEST run it'], env, home);
  const lastInput = JSON.stringify(fake.requests.filter((r) => r.family === 'responses').at(-1)?.body?.input ?? []);
  check('codex tool loop: exec_command ran and function_call_output went back through the gateway', lastInput.includes('function_call_output') && lastInput.includes('codex-tool-ran'), tool.out);
  check('codex tool loop: the token in the tool output was redacted before it left', !lastInput.includes(TOKEN.slice(4)) && lastInput.includes('[REDACTED:SECRET]'), lastInput.slice(0, 500));
  calls += fake.requests.filter((r) => r.family === 'messages' || r.family === 'chat' || r.family === 'responses').length;
  await checkEvents(gw, 'codex', calls, { developer: 'codex-dev', repository: 'acme/codex' });

  // Refusals (Codex reconnected five times on a 409 and on a stream error).
  const config = refusalConfig(`targets: [{id: openai, provider: openai-compatible, base_url: "${fake.url}/v1"}]`);
  const codex = (prompt, developer, port) => () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-codex-refusal-'));
    writeFileSync(
      join(dir, 'config.toml'),
      `model = "gpt-5"\nmodel_provider = "keeptrusts"\n[model_providers.keeptrusts]\nname = "keeptrusts"\nbase_url = "http://127.0.0.1:${port}/v1"\nenv_key = "KT_E2E_KEY"\nwire_api = "responses"\nhttp_headers = { "x-keeptrusts-developer" = "${developer}" }\n`,
    );
    return run(`${BIN}codex`, ['exec', '--skip-git-repo-check', prompt], { HOME: dir, CODEX_HOME: dir, KT_E2E_KEY: 'sk-codex-e2e' }, dir);
  };
  fake.reset();
  await refusal('codex', 'input block', { config, port: 41306, fake, exec: codex(`deploy with ${TOKEN} please`, 'codex-dev', 41306), upstream: 0, code: 'input_blocked' });
  fake.setReplyText(`Here is the key you asked for: ${LIVE_KEY} and more text after it.`);
  await refusal('codex', 'output block (streamed)', { config, port: 41307, fake, exec: codex('what is the key?', 'codex-dev', 41307), upstream: 1, code: 'output_blocked' });
  fake.reset();
  await refusal('codex', 'budget stop', { config, port: 41308, fake, before: codex('say hi', 'broke-dev', 41308), exec: codex('say hi again', 'broke-dev', 41308), upstream: 0, code: 'budget_exceeded' });
  await fake.close();

  // A tool call whose arguments carry the key: blocked mid-stream, and the tool never runs.
  const marker = join(home, 'blocked-tool-ran');
  const toolFake = await startFakeUpstream({ toolName: 'exec_command', toolInput: { cmd: `touch ${marker}; echo ${LIVE_KEY}` } });
  await refusal('codex', 'output block in a tool call (streamed)', {
    config: refusalConfig(`targets: [{id: openai, provider: openai-compatible, base_url: "${toolFake.url}/v1"}]`),
    port: 41310,
    fake: toolFake,
    exec: codex('TOOLTEST run it', 'codex-dev', 41310),
    upstream: 1,
    code: 'output_blocked',
  });
  check('codex: the blocked tool call did not run', !existsSync(marker));
  await toolFake.close();
}

// ---- Across formats: Codex on an Anthropic-only gateway, Claude Code on an OpenAI-chat-only gateway ----
{
  const fake = await startFakeUpstream({ toolName: 'exec_command', toolInput: { cmd: `echo codex-tool-ran ${TOKEN}` } });
  const gw = await gateway(`pack: {name: codex-on-claude, version: "1"}\npolicies: {chain: [code-sanitizer, audit-logger]}\nproviders:\n  targets: [{id: claude, provider: anthropic, base_url: "${fake.url}", model: claude-sonnet-4-20250514}]\n`, 41311);
  const provider = `model_provider = "keeptrusts"\n[model_providers.keeptrusts]\nname = "keeptrusts"\nbase_url = "http://127.0.0.1:41311/v1"\nenv_key = "KT_E2E_KEY"\nwire_api = "responses"\n`;
  // Codex as it comes offers web search, which no Anthropic request can say (its namespace of sub-agent tools is translated).
  const plain = mkdtempSync(join(tmpdir(), 'kt-codex-claude-plain-'));
  writeFileSync(join(plain, 'config.toml'), `model = "claude-sonnet-4-20250514"\n${provider}`);
  const refused = await run(`${BIN}codex`, ['exec', '--skip-git-repo-check', 'say hi'], { HOME: plain, CODEX_HOME: plain, KT_E2E_KEY: 'sk-ant-codex' }, plain);
  check('codex on an Anthropic target, default tools: a 400 untranslatable_field naming the tool, nothing sent upstream', refused.code !== 0 && refused.out.includes('untranslatable_field') && /tools\[\d+\]\.type/.test(refused.out) && fake.requests.length === 0, refused.out.slice(-1500));
  shown.push({ client: 'codex', kind: 'Anthropic target, web search on', text: [...new Set(refused.out.split('\n').filter((l) => l.includes('untranslatable_field')))].join('\n'), rc: refused.code, calls: 0, events: 1 });
  // With web search turned off (docs/configuration.md), Codex runs on Claude, sub-agent tools and all.
  const home = mkdtempSync(join(tmpdir(), 'kt-codex-claude-'));
  writeFileSync(join(home, 'config.toml'), `model = "claude-sonnet-4-20250514"\nweb_search = "disabled"\n${provider}`);
  const env = { HOME: home, CODEX_HOME: home, KT_E2E_KEY: 'sk-ant-codex' };
  const hi = await run(`${BIN}codex`, ['exec', '--skip-git-repo-check', 'say hi'], env, home);
  check('codex exec on an Anthropic-only gateway answers (Responses → Messages)', hi.code === 0 && hi.out.includes('Hello from fake upstream!'), hi.out.slice(-1500));
  const asked = fake.requests.filter((r) => r.family === 'messages');
  check('codex: every upstream call was an Anthropic /v1/messages stream with the key as x-api-key', asked.length > 0 && fake.requests.every((r) => r.family === 'messages') && asked.every((r) => r.body.stream === true && r.headers['x-api-key'] === 'sk-ant-codex' && r.headers['anthropic-version'] === '2023-06-01'), JSON.stringify(fake.requests.map((r) => [r.path, r.headers['x-api-key']])));
  fake.reset();
  const tool = await run(`${BIN}codex`, ['exec', '--skip-git-repo-check', 'TOOLTEST run it'], env, home);
  const last = fake.requests.filter((r) => r.family === 'messages').at(-1)?.body?.messages ?? [];
  const use = last.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).find((b) => b.type === 'tool_use');
  const result = last.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).find((b) => b.type === 'tool_result');
  const lastText = JSON.stringify(last);
  check('codex tool loop on Claude: exec_command ran, its tool_result went back paired with the tool_use id', tool.code === 0 && use && result && result.tool_use_id === use.id && lastText.includes('codex-tool-ran'), tool.out.slice(-1500) + '\n' + lastText.slice(0, 800));
  check('codex tool loop on Claude: the token in the tool output was redacted before it left', !lastText.includes(TOKEN.slice(4)) && lastText.includes('[REDACTED:SECRET]'), lastText.slice(0, 500));
  // A call to a namespaced sub-agent tool, made under the flat name Claude was offered: Codex runs it only when
  // the reply names its namespace (without it Codex answers "unsupported call").
  fake.reset();
  let called = false;
  fake.setResponder((req) => {
    const name = (req.body?.tools ?? []).map((t) => t.name).find((n) => n === 'multi_agent_v1__close_agent');
    if (!name || called) return undefined;
    called = true;
    return { tool: { name, input: { target: 'no-such-agent' } } };
  });
  const ns = await run(`${BIN}codex`, ['exec', '--skip-git-repo-check', 'close the agent'], env, home);
  const nsLast = fake.requests.filter((r) => r.family === 'messages').at(-1)?.body?.messages ?? [];
  const nsBlocks = nsLast.flatMap((m) => (Array.isArray(m.content) ? m.content : []));
  const nsUse = nsBlocks.find((b) => b.type === 'tool_use');
  const nsResult = nsBlocks.find((b) => b.type === 'tool_result');
  check('codex on Claude: a namespaced sub-agent call reached its handler, and went back under the flat name paired with its result', ns.code === 0 && called && nsUse?.name === 'multi_agent_v1__close_agent' && nsResult?.tool_use_id === nsUse.id && JSON.stringify(nsResult).includes('no-such-agent') && !JSON.stringify(nsResult).includes('unsupported call'), ns.out.slice(-1500) + '\n' + JSON.stringify(nsBlocks).slice(0, 800));
  fake.setResponder(null);
  const events = await stopAndReadEvents(gw);
  check(`codex on Claude: every decision event names the translation (${events.length} events)`, events.length > 0 && events.filter((e) => e.status === 200).every((e) => e.target?.translation === 'responses->messages') && events.some((e) => e.status === 400 && e.reason_code === 'untranslatable_field'), JSON.stringify(events.map((e) => [e.status, e.reason_code, e.target?.translation])));
  await fake.close();
}
{
  const fake = await startFakeUpstream({ toolName: 'Bash', toolInput: { command: `echo claude-tool-ran ${TOKEN}`, description: 'echo' } });
  const gw = await gateway(`pack: {name: claude-on-chat, version: "1"}\npolicies: {chain: [code-sanitizer, audit-logger]}\nproviders:\n  targets: [{id: gpt, provider: openai-compatible, format: chat, base_url: "${fake.url}/v1", model: gpt-4o}]\n`, 41312);
  const home = mkdtempSync(join(tmpdir(), 'kt-cc-chat-'));
  const env = { HOME: home, ANTHROPIC_BASE_URL: 'http://127.0.0.1:41312', ANTHROPIC_API_KEY: 'sk-cc-chat', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', CLAUDE_CODE_MAX_RETRIES: '1', DISABLE_TELEMETRY: '1' };
  const hi = await run(`${BIN}claude`, ['-p', 'say hi', '--output-format', 'json'], env, home);
  check('claude -p on an OpenAI-chat-only gateway answers (Messages → chat)', hi.code === 0 && hi.out.includes('Hello from fake upstream!'), hi.out.slice(-1500));
  const chats = fake.requests.filter((r) => r.family === 'chat');
  check('claude: every inference call was an OpenAI /v1/chat/completions stream for the target\'s model, Bearer key', chats.length > 0 && fake.requests.filter((r) => r.family !== 'models').every((r) => r.family === 'chat') && chats.every((r) => r.body.stream === true && r.body.model === 'gpt-4o' && r.headers.authorization === 'Bearer sk-cc-chat'), JSON.stringify(fake.requests.map((r) => [r.path, r.body?.model])));
  fake.reset();
  const tool = await run(`${BIN}claude`, ['-p', 'TOOLTEST run the command', '--allowedTools', 'Bash', '--output-format', 'json'], env, home);
  const messages = fake.requests.filter((r) => r.family === 'chat').at(-1)?.body?.messages ?? [];
  const call = messages.flatMap((m) => m.tool_calls ?? [])[0];
  const result = messages.find((m) => m.role === 'tool');
  const lastText = JSON.stringify(messages);
  check('claude tool loop on GPT: Bash ran, its result went back as a tool message paired with the call id', tool.code === 0 && call && result && result.tool_call_id === call.id && lastText.includes('claude-tool-ran'), tool.out.slice(-1500) + '\n' + lastText.slice(0, 800));
  check('claude tool loop on GPT: the token in the tool result was redacted before it left', !lastText.includes(TOKEN.slice(4)) && lastText.includes('[REDACTED:SECRET]'), lastText.slice(0, 500));
  const events = await stopAndReadEvents(gw);
  check(`claude on GPT: every answered decision event names the translation (${events.length} events)`, events.length > 0 && events.filter((e) => e.status === 200).length > 0 && events.filter((e) => e.status === 200).every((e) => e.target?.translation === 'messages->chat'), JSON.stringify(events.map((e) => [e.route, e.status, e.target?.translation])));
  await fake.close();
}

{
  // Codex on a server that speaks only OpenAI chat (format: chat): Responses → chat, a tool loop included.
  const fake = await startFakeUpstream({ toolName: 'exec_command', toolInput: { cmd: 'echo codex-on-chat-ran' } });
  const gw = await gateway(`pack: {name: codex-on-chat, version: "1"}\npolicies: {chain: [code-sanitizer, audit-logger]}\nproviders:\n  targets: [{id: local, provider: openai-compatible, format: chat, base_url: "${fake.url}/v1", model: qwen3-coder}]\n`, 41313);
  const home = mkdtempSync(join(tmpdir(), 'kt-codex-chat-'));
  writeFileSync(join(home, 'config.toml'), `model = "qwen3-coder"\nweb_search = "disabled"\nmodel_provider = "keeptrusts"\n[model_providers.keeptrusts]\nname = "keeptrusts"\nbase_url = "http://127.0.0.1:41313/v1"\nenv_key = "KT_E2E_KEY"\nwire_api = "responses"\n`);
  const tool = await run(`${BIN}codex`, ['exec', '--skip-git-repo-check', 'TOOLTEST run it'], { HOME: home, CODEX_HOME: home, KT_E2E_KEY: 'sk-local' }, home);
  const chats = fake.requests.filter((r) => r.family === 'chat');
  const messages = chats.at(-1)?.body?.messages ?? [];
  const call = messages.flatMap((m) => m.tool_calls ?? [])[0];
  const result = messages.find((m) => m.role === 'tool');
  check('codex exec on a chat-only gateway: a tool loop through Responses → chat, call id paired, answered', tool.code === 0 && tool.out.includes('Hello from fake upstream!') && chats.length >= 2 && fake.requests.every((r) => r.family === 'chat') && call && result?.tool_call_id === call.id && JSON.stringify(result).includes('codex-on-chat-ran'), tool.out.slice(-1500) + '\n' + JSON.stringify(messages).slice(0, 600));
  const events = await stopAndReadEvents(gw);
  check(`codex on a chat-only gateway: events name responses->chat (${events.length} events)`, events.length >= 2 && events.every((e) => e.target?.translation === 'responses->chat'), JSON.stringify(events.map((e) => [e.status, e.target?.translation])));
  await fake.close();
}

process.stdout.write('\nWhat each client showed (rc, upstream calls, decision events):\n');
for (const s of shown) process.stdout.write(`- ${s.client}, ${s.kind} (rc ${s.rc}, ${s.calls} upstream, ${s.events} event):\n    ${s.text.replaceAll('\n', '\n    ')}\n`);

process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed ? 1 : 0;
