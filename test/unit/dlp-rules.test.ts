import { describe, expect, it } from 'vitest';
import { boundedLevenshtein, createDlpScanner, type DlpScannerOptions, fuzzyBudget } from '../../src/detect/dlp.js';

function found(text: string, opts: DlpScannerOptions): Array<[string, string, string]> {
  return createDlpScanner(opts)
    .scan(text)
    .map((m) => [m.type, m.rule, text.slice(m.start, m.end)]);
}
function values(text: string, opts: DlpScannerOptions): string[] {
  return found(text, opts).map(([, , v]) => v);
}

/** Plain dynamic-programming Levenshtein, the reference for the banded version. */
function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

describe('blocked terms', () => {
  const opts = { blockedTerms: ['Project Phoenix', 'nightingale', 'C++', '#launch-codes', 'acme-corp'] };

  it('case-insensitive, on word boundaries, rule blocked-term', () => {
    expect(found('The NIGHTINGALE file', opts)).toEqual([['BLOCKED_TERM', 'blocked-term', 'NIGHTINGALE']]);
    expect(values('nightingales, nightingale_v2, xnightingale, nightingale2', opts)).toEqual([]);
    expect(values('(nightingale) "nightingale". nightingale!', opts)).toEqual(['nightingale', 'nightingale', 'nightingale']);
  });

  it('multi-word terms across any whitespace run, still bounded', () => {
    expect(values('project phoenix; PROJECT   Phoenix; project\n  phoenix', opts)).toEqual(['project phoenix', 'PROJECT   Phoenix', 'project\n  phoenix']);
    expect(values('subproject phoenix; project phoenixes; project-phoenix', opts)).toEqual([]);
  });

  it('terms with punctuation are bounded only where they have word characters', () => {
    expect(values('we use C++ and #launch-codes, acme-corp.com', opts)).toEqual(['C++', '#launch-codes', 'acme-corp']);
    expect(values('xC++ and acme-corporate', opts)).toEqual([]);
  });

  it('Unicode-aware boundaries', () => {
    const u = { blockedTerms: ['café', 'Ünïcode', 'naïve plan', '機密', 'Ωmega'] };
    expect(values('the café, CAFÉ and ÜNÏCODE; the naïve  plan', u)).toEqual(['café', 'CAFÉ', 'ÜNÏCODE', 'naïve  plan']);
    expect(values('cafés, cafébar, supercafé, cafe\u0301s', u)).toEqual([]);
    // Scripts without spaces between words match inside a sentence.
    expect(values('这是機密文件', u)).toEqual(['機密']);
    expect(values('ωmega and αΩmega', u)).toEqual(['ωmega']);
  });

  it('a shorter term still matches where a longer one fails its boundary', () => {
    expect(values('foo barn', { blockedTerms: ['foo', 'foo bar'] })).toEqual(['foo']);
    expect(values('foo bar.', { blockedTerms: ['foo', 'foo bar'] })).toEqual(['foo bar']);
  });

  it('empty and whitespace-only terms are ignored; duplicates are merged', () => {
    expect(values('a  b', { blockedTerms: ['', '   ', 'B', 'b'] })).toEqual(['b']);
  });

  it('regex syntax in terms is literal', () => {
    expect(values('cost is $5.00 (net) or $5x00', { blockedTerms: ['$5.00 (net)'] })).toEqual(['$5.00 (net)']);
  });
});

describe('fuzzy matching', () => {
  it('is off by default', () => {
    expect(values('projekt phoenix', { blockedTerms: ['project phoenix'] })).toEqual([]);
  });

  it('matches typos within maxDistance, as blocked-term-fuzzy', () => {
    const opts = { blockedTerms: ['nightingale', 'project phoenix'], fuzzyMatching: true, maxDistance: 2 };
    expect(found('the nightingle memo', opts)).toEqual([['BLOCKED_TERM', 'blocked-term-fuzzy', 'nightingle']]);
    expect(values('Nigthingale and NIGHTINGALE', opts)).toEqual(['Nigthingale', 'NIGHTINGALE']);
    expect(values('projekt phoenyx', opts)).toEqual(['projekt phoenyx']);
    expect(values('night in gale', opts)).toEqual([]); // different word count than the term
    expect(values('nightmare', opts)).toEqual([]);
  });

  it('the exact match wins over a fuzzy one on the same text', () => {
    expect(found('nightingale', { blockedTerms: ['nightingale'], fuzzyMatching: true })).toEqual([['BLOCKED_TERM', 'blocked-term', 'nightingale']]);
  });

  it('joins words split by punctuation or underscores', () => {
    expect(values('project_phoenix and project-phoenix', { blockedTerms: ['project phoenix'], fuzzyMatching: true, maxDistance: 0 })).toEqual([
      'project_phoenix',
      'project-phoenix',
    ]);
  });

  it('compares in lower case and NFC, so decomposed accents still match', () => {
    const opts = { blockedTerms: ['café crème'], fuzzyMatching: true, maxDistance: 1 };
    expect(values('un cafe\u0301 cre\u0300me', opts)).toEqual(['cafe\u0301 cre\u0300me']);
    expect(values('CAFÉ CRÈMES', opts)).toEqual(['CAFÉ CRÈMES']);
    expect(values('cafe creme', opts)).toEqual([]); // two edits
  });

  it('respects the distance: 1 edit is not 2', () => {
    const d1 = { blockedTerms: ['nightingale'], fuzzyMatching: true, maxDistance: 1 };
    expect(values('nightingal', d1)).toEqual(['nightingal']);
    expect(values('nightingl', d1)).toEqual([]);
  });

  it('ignores terms shorter than 4 characters and caps the distance at a third of the term', () => {
    expect(values('abd', { blockedTerms: ['abc'], fuzzyMatching: true, maxDistance: 2 })).toEqual([]);
    expect(fuzzyBudget(4, 8)).toBe(1);
    expect(fuzzyBudget(9, 8)).toBe(3);
    expect(fuzzyBudget(30, 8)).toBe(8);
    expect(fuzzyBudget(30, 2)).toBe(2);
    const orion = { blockedTerms: ['orion'], fuzzyMatching: true, maxDistance: 8 };
    expect(values('orian', orion)).toEqual(['orian']);
    expect(values('arian, order, onion rings', orion)).toEqual(['onion']); // onion is one edit away
  });

  it('rejects an out-of-range maxDistance', () => {
    expect(() => createDlpScanner({ maxDistance: 9 })).toThrow(/maxDistance/);
    expect(() => createDlpScanner({ maxDistance: -1 })).toThrow(/maxDistance/);
    expect(() => createDlpScanner({ maxDistance: 1.5 })).toThrow(/maxDistance/);
  });

  it('banded Levenshtein agrees with the plain algorithm', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    const word = () => Array.from({ length: Math.floor(rnd() * 9) }, () => 'abcd'[Math.floor(rnd() * 4)]).join('');
    for (let i = 0; i < 3000; i++) {
      const a = word();
      const b = word();
      const max = Math.floor(rnd() * 5);
      const exact = levenshtein(a, b);
      expect(boundedLevenshtein(a, b, max), `${a} vs ${b} (max ${max})`).toBe(exact <= max ? exact : max + 1);
    }
  });

  it('prints fuzzy throughput on source-like text', () => {
    const line = 'export function handleRequest(req, res) { const user = await db.users.findOne({ id: req.params.id }); return res.json(user); }\n';
    const text = line.repeat(Math.ceil(2_000_000 / line.length));
    const terms = ['project phoenix', 'nightingale', 'acme merger', 'blue falcon', 'orion', 'customer list', 'q3 forecast', 'hydra', 'zephyr initiative', 'falconer'];
    for (const maxDistance of [1, 2]) {
      const s = createDlpScanner({ blockedTerms: terms, fuzzyMatching: true, maxDistance });
      s.scan(text.slice(0, 50_000));
      const t0 = performance.now();
      s.scan(text);
      console.log(`DLP fuzzy (10 terms, maxDistance ${maxDistance}): ${(text.length / 1e6 / ((performance.now() - t0) / 1000)).toFixed(1)} MB/s`);
    }
  });
});

describe('classification markers', () => {
  const text =
    'CONFIDENTIAL. Strictly Confidential. proprietary. Trade Secret. INTERNAL ONLY. internal use only. Do Not Distribute. ' +
    'Not for distribution. RESTRICTED. Company Confidential. SECRET//NOFORN. (S//NF) text.';

  it('standard has none', () => {
    expect(found(text, { sensitivityLevel: 'standard' })).toEqual([]);
    expect(found(text, {})).toEqual([]);
  });

  it('high: CONFIDENTIAL, STRICTLY CONFIDENTIAL, PROPRIETARY, TRADE SECRET', () => {
    expect(found(text, { sensitivityLevel: 'high' })).toEqual([
      ['CLASSIFICATION_MARKER', 'marker-confidential', 'CONFIDENTIAL'],
      ['CLASSIFICATION_MARKER', 'marker-strictly-confidential', 'Strictly Confidential'],
      ['CLASSIFICATION_MARKER', 'marker-proprietary', 'proprietary'],
      ['CLASSIFICATION_MARKER', 'marker-trade-secret', 'Trade Secret'],
      ['CLASSIFICATION_MARKER', 'marker-confidential', 'Confidential'], // of "Company Confidential"
    ]);
  });

  it('restricted adds internal-only, distribution, restricted, company confidential and banner markings', () => {
    expect(found(text, { sensitivityLevel: 'restricted' }).map(([, rule, v]) => `${rule}:${v}`)).toEqual([
      'marker-confidential:CONFIDENTIAL',
      'marker-strictly-confidential:Strictly Confidential',
      'marker-proprietary:proprietary',
      'marker-trade-secret:Trade Secret',
      'marker-internal-only:INTERNAL ONLY',
      'marker-internal-use-only:internal use only',
      'marker-do-not-distribute:Do Not Distribute',
      'marker-not-for-distribution:Not for distribution',
      'marker-restricted:RESTRICTED',
      'marker-company-confidential:Company Confidential',
      'marker-classification-banner:SECRET//NOFORN',
      'marker-portion:(S//NF)',
    ]);
    expect(values('TOP SECRET//SCI//REL TO USA, GBR', { sensitivityLevel: 'restricted' })).toEqual(['TOP SECRET//SCI//REL TO USA, GBR']);
    expect(values('UNCLASSIFIED//FOUO', { sensitivityLevel: 'restricted' })).toEqual(['UNCLASSIFIED//FOUO']);
  });

  it('word-bounded, and banner markings only in upper case without spaces', () => {
    const r = { sensitivityLevel: 'restricted' as const };
    expect(values('isConfidential confidentiality unrestricted nonproprietary internal_only', r)).toEqual([]);
    expect(values('let secret // the key\nconst x = secret//comment', r)).toEqual([]);
    expect(values('internal-only, do-not-distribute', r)).toEqual(['internal-only', 'do-not-distribute']);
  });
});

describe('custom patterns and the detector contract', () => {
  it('custom patterns: type is the upper-cased name, invalid regex throws naming it', () => {
    const s = createDlpScanner({ detectPatterns: [{ name: 'project-code', pattern: 'PRJ-[0-9]{4}' }] });
    const text = 'see PRJ-0042 and PRJ-9';
    expect(s.scan(text).map((m) => [m.type, m.rule, text.slice(m.start, m.end)])).toEqual([['PROJECT_CODE', 'custom:project-code', 'PRJ-0042']]);
    expect(() => createDlpScanner({ detectPatterns: [{ name: 'bad-one', pattern: '(?<x' }] })).toThrow(/bad-one/);
  });

  it('no overlapping matches: custom beats a term, a term beats a marker', () => {
    const s = createDlpScanner({
      detectPatterns: [{ name: 'codename', pattern: 'Phoenix-\\d+' }],
      blockedTerms: ['phoenix', 'confidential'],
      sensitivityLevel: 'high',
    });
    const text = 'Phoenix-7 is confidential';
    expect(s.scan(text).map((m) => [m.type, text.slice(m.start, m.end)])).toEqual([
      ['CODENAME', 'Phoenix-7'],
      ['BLOCKED_TERM', 'confidential'],
    ]);
  });

  it('maxMatchLength covers terms with stretched whitespace, markers and banners', () => {
    expect(createDlpScanner({}).maxMatchLength).toBe(0);
    const terms = createDlpScanner({ blockedTerms: ['a b c'] });
    expect(terms.maxMatchLength).toBeGreaterThanOrEqual('a'.length * 3 + 2 * 16);
    expect(createDlpScanner({ sensitivityLevel: 'high' }).maxMatchLength).toBeGreaterThanOrEqual('strictly confidential'.length);
    const r = createDlpScanner({ sensitivityLevel: 'restricted' });
    const banner = 'TOP SECRET//SCI//REL TO USA, GBR';
    expect(r.maxMatchLength).toBeGreaterThanOrEqual(banner.length);
    // Single words never contain whitespace: streaming holds them whole anyway.
    expect(createDlpScanner({ blockedTerms: ['nightingale'] }).maxSpacedMatchLength).toBe(0);
    expect(terms.maxSpacedMatchLength).toBe(terms.maxMatchLength);
  });

  it('the same scanner gives the same answer twice', () => {
    const s = createDlpScanner({ blockedTerms: ['phoenix'], fuzzyMatching: true, sensitivityLevel: 'restricted' });
    const text = 'Phoenix, phoenyx, CONFIDENTIAL, internal only, SECRET//NF';
    expect(s.scan(text)).toEqual(s.scan(text));
  });
});
