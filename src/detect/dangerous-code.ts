import type { Detector, DetectorMatch } from './types.js';

/**
 * Patterns in generated code or commands that an agent could run with harmful effect. Looked for in model
 * output: a human reviewing an edit may miss a `curl | sh` in the middle of a long answer.
 */
export interface DangerousCodeRule {
  id: string;
  description: string;
  /** Lower-case literals, one of which occurs in any match: rules whose keywords are absent are skipped. */
  keywords: readonly string[];
  pattern: RegExp;
}

// Two quantifiers over the same characters must not be able to share a run: `-[a-zA-Z]*[rR][a-zA-Z]*` tried
// every split of `rm -rrrr…` (3 s for 64 KB), and `\(\s*(?:\(?\s*await…)?` every split of `eval(` and its spaces.
// A body after `curl`/`wget` never holds another `curl`/`wget`: each start then reads to the next one, not 300
// characters (a text of repeated `curl ` cost 0.8 s of CPU per MB); the later one still matches on its own.
export const DANGEROUS_CODE_RULES: readonly DangerousCodeRule[] = [
  { id: 'pipe-to-shell', keywords: ['curl', 'wget'], description: 'downloads a script and runs it', pattern: /\b(?:curl|wget)\b(?:(?!\b(?:curl|wget)\b)[^\n|;]){0,300}\|\s*(?:sudo\s+)?(?:ba|z|k|da)?sh\b/g },
  { id: 'pipe-to-interpreter', keywords: ['curl', 'wget'], description: 'downloads code and pipes it to an interpreter', pattern: /\b(?:curl|wget)\b(?:(?!\b(?:curl|wget)\b)[^\n|;]){0,300}\|\s*(?:sudo\s+)?(?:python3?|node|perl|ruby|php)\b/g },
  { id: 'rm-rf-root', keywords: ['rm '], description: 'deletes the root or home directory', pattern: /\brm\s+(?:-(?=[a-zA-Z]*[rR])[a-zA-Z]+\s+(?:-[a-zA-Z]+\s+)*|--recursive\s+(?:--force\s+)?)(?:--no-preserve-root\s+)?(?:\/|\/\*|~|~\/\*|\$HOME|\/\s*--no-preserve-root)(?=\s|$|;|&|\))/g },
  { id: 'disk-overwrite', keywords: ['/dev/'], description: 'overwrites a block device', pattern: /\b(?:dd\s+[^\n]{0,100}of=\/dev\/(?:sd|nvme|hd|vd|disk)[a-z0-9]*|mkfs(?:\.\w+)?\s+\/dev\/(?:sd|nvme|hd|vd)[a-z0-9]*|>\s*\/dev\/sd[a-z])/g },
  { id: 'fork-bomb', keywords: [':()'], description: 'shell fork bomb', pattern: /:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:/g },
  { id: 'chmod-777-root', keywords: ['chmod'], description: 'makes the whole filesystem world-writable', pattern: /\bchmod\s+-R\s+0?777\s+\/(?=\s|$)/g },
  { id: 'tls-verify-disabled-python', keywords: ['verify'], description: 'disables TLS certificate verification', pattern: /\bverify\s*=\s*False\b/g },
  { id: 'tls-verify-disabled-node', keywords: ['rejectunauthorized', 'node_tls_reject_unauthorized'], description: 'disables TLS certificate verification', pattern: /\b(?:rejectUnauthorized\s*:\s*false|NODE_TLS_REJECT_UNAUTHORIZED\s*=\s*['"]?0)/g },
  { id: 'tls-verify-disabled-go', keywords: ['insecureskipverify'], description: 'disables TLS certificate verification', pattern: /\bInsecureSkipVerify\s*:\s*true\b/g },
  { id: 'tls-verify-disabled-cli', keywords: ['curl', 'sslverify', 'ssl_verify_mode'], description: 'disables TLS certificate verification', pattern: /(?:\bcurl\b(?:(?!\bcurl\b)[^\n]){0,200}\s(?:-k|--insecure)\b|\bgit\s+config\b[^\n]{0,60}http\.sslVerify\s+false|\bssl_verify_mode\s*[=:]\s*(?:OpenSSL::SSL::)?VERIFY_NONE)/g },
  { id: 'eval-fetched-code', keywords: ['eval', 'exec', 'function'], description: 'evaluates code fetched over the network', pattern: /\b(?:eval|exec|Function)\s*\(\s*(?:await\s+)?(?:\(\s*await\s+|await\s+)?(?:fetch|requests\.get|urllib\.request\.urlopen|axios\.get|http\.get|urlopen)\s*\(/g },
  { id: 'eval-remote-python', keywords: ['exec'], description: 'executes a downloaded payload', pattern: /\bexec\s*\(\s*(?:requests\.get|urlopen)\([^\n]{0,200}\)\.(?:text|read\(\))/g },
  { id: 'powershell-download-exec', keywords: ['iex', 'invoke-expression', 'downloadstring', 'iwr', 'invoke-webrequest'], description: 'PowerShell download and execute', pattern: /\b(?:iex|Invoke-Expression)\b[^\n]{0,200}(?:DownloadString|Invoke-WebRequest|iwr)\b|\b(?:DownloadString|iwr|Invoke-WebRequest)\b[^\n]{0,200}\|\s*(?:iex|Invoke-Expression)\b/gi },
  { id: 'reverse-shell', keywords: ['/dev/tcp/', 'nc ', 'socat'], description: 'opens a reverse shell', pattern: /\b(?:bash|sh)\s+-i\s+>&\s*\/dev\/tcp\/|\bnc\s+(?:-\w+\s+)*-e\s+\/bin\/(?:ba)?sh\b|\bsocat\b[^\n]{0,100}exec:['"]?\/bin\/(?:ba)?sh/g },
  { id: 'disable-firewall', keywords: ['ufw', 'setenforce', 'firewalld', 'iptables'], description: 'turns off the host firewall or SELinux', pattern: /\b(?:ufw\s+disable|setenforce\s+0|systemctl\s+(?:stop|disable)\s+firewalld|iptables\s+-F\b)/g },
  { id: 'drop-database', keywords: ['drop', 'flushall'], description: 'drops a database or truncates all tables', pattern: /\bDROP\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+EXISTS\s+)?[`"']?\w+|\bFLUSHALL\b/gi },
  { id: 'git-force-push-main', keywords: ['git'], description: 'force-pushes over a shared main branch', pattern: /\bgit\s+push\s+(?:[^\n]{0,60}\s)?(?:--force|-f)\b[^\n]{0,60}\b(?:main|master)\b/g },
];

/** Finds dangerous code; `disabled` rule ids are skipped. */
export function createDangerousCodeDetector(disabled: readonly string[] = []): Detector {
  const rules = DANGEROUS_CODE_RULES.filter((r) => !disabled.includes(r.id));
  return {
    maxMatchLength: 512,
    scan(text: string): DetectorMatch[] {
      const out: DetectorMatch[] = [];
      const lower = text.toLowerCase();
      for (const r of rules) {
        if (!includesAny(lower, r.keywords)) continue;
        r.pattern.lastIndex = 0;
        for (const m of text.matchAll(r.pattern)) out.push({ type: 'DANGEROUS_CODE', rule: r.id, start: m.index, end: m.index + m[0].length });
      }
      return out.sort((a, b) => a.start - b.start);
    },
  };
}

/** A loop rather than `some` with a closure: every rule asks this on every text scanned, most of them streamed windows. */
function includesAny(text: string, keywords: readonly string[]): boolean {
  for (const k of keywords) if (text.includes(k)) return true;
  return false;
}
