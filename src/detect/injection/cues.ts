/**
 * Word cues of the prompt-injection classifier: small lexicons of words and word pairs for the parts a jailbreak is
 * assembled from (a harmful goal, a persona or role-play set-up, a fictional or hypothetical frame, a demand to drop
 * rules, a request for step-by-step detail). A linear model over n-grams sees each part on its own, and each part
 * alone is common in benign text (a thriller, "act as a tutor", `kill -9`); what marks a jailbreak is their
 * co-occurrence in one window. features.ts marks these words while it hashes them (one table look-up per word), and
 * cueInputs turns a window's counts into the model's dense inputs, including the pairwise products a linear model
 * cannot form itself. The lexicons are general vocabulary of the attack literature, not phrases of any test set.
 */

export const CUE_HARM = 1;
export const CUE_ROLEPLAY = 2;
export const CUE_FICTION = 4;
export const CUE_UNRESTRICTED = 8;
export const CUE_INSTRUCTIONS = 16;
/** Not a lexicon: a line that starts as prose and ends in token soup (see soupLine). */
export const CUE_SOUP = 32;
/**
 * Persuasion around a request (PAIR/PAP-style jailbreaks): endorsement by experts or authorities, a stated
 * legitimate purpose, emotional pressure, a claimed professional role. Common in benign text on its own; it is its
 * co-occurrence with harm words (cue-harm-persuade) that the model can weigh.
 */
export const CUE_PERSUADE = 64;
export const CUE_CATEGORIES = 7;

/** Words are split as features.ts splits them: "don't" is `don t`, "role-play" is `role play`. */
export const CUE_LEXICON: readonly (readonly [number, readonly string[]])[] = [
  [
    CUE_HARM,
    [
      'bomb', 'bombs', 'explosive', 'explosives', 'detonator', 'weapon', 'weapons', 'firearm', 'firearms', 'ammunition',
      'meth', 'methamphetamine', 'cocaine', 'heroin', 'fentanyl', 'narcotics', 'illegal drugs', 'poison', 'poisoning',
      'murder', 'murdering', 'assassinate', 'assassination', 'kidnap', 'kidnapping', 'suicide', 'self harm',
      'ransomware', 'malware', 'keylogger', 'spyware', 'botnet', 'phishing', 'steal', 'stealing', 'stolen', 'theft',
      'launder', 'laundering', 'counterfeit', 'fraud', 'fraudulent', 'scam', 'scams', 'terrorist', 'terrorism',
      'extremist', 'extremism', 'racist', 'racism', 'sexist', 'genocide', 'stalk', 'stalking', 'harass', 'harassment',
      'trafficking', 'smuggle', 'smuggling', 'torture', 'pornography', 'porn', 'defamatory', 'defamation',
      'misinformation', 'disinformation', 'propaganda', 'illegal', 'illegally', 'illicit', 'violent', 'violence',
      'lethal', 'bioweapon', 'blackmail', 'extort', 'extortion', 'overdose', 'arson', 'vandalism', 'bullying', 'slur',
      'slurs', 'hateful', 'hate speech', 'offensive', 'discriminate', 'discrimination', 'shoplift', 'shoplifting',
      'piracy', 'bribe', 'bribery', 'insider trading', 'tax evasion', 'nerve agent', 'chemical weapon', 'fake news',
      'kill someone', 'kill people', 'kill him', 'kill her', 'kill myself', 'kill yourself', 'hack into', 'break into',
      'dangerous', 'harmful', 'cheat', 'cheating', 'manipulate', 'exploit', 'weaponize', 'untraceable', 'sabotage',
    ],
  ],
  [
    CUE_ROLEPLAY,
    [
      'roleplay', 'role play', 'persona', 'character', 'characters', 'pretend', 'pretending', 'simulate', 'simulating',
      'emulate', 'emulating', 'impersonate', 'embody', 'immerse', 'act as', 'acting as', 'the role', 'you are',
      'you re', 'stay in', 'in character', 'break character', 'respond as', 'answer as', 'stands for', 'from now',
      'now on', 'let s', 'a game', 'two responses', 'alter ego', 'your name', 'named', 'chatbot', 'chatgpt', 'dan',
    ],
  ],
  [
    CUE_FICTION,
    [
      'hypothetical', 'hypothetically', 'fictional', 'fiction', 'imaginary', 'imagine', 'story', 'stories', 'novel',
      'screenplay', 'movie', 'scene', 'scenario', 'fantasy', 'thought experiment', 'educational purposes',
      'research purposes', 'academic purposes', 'alternate universe', 'parallel universe', 'a world', 'dream', 'writer',
      'author', 'thriller', 'villain', 'protagonist', 'plot', 'chapter', 'narrative', 'game', 'pretend',
    ],
  ],
  [
    CUE_UNRESTRICTED,
    [
      'unfiltered', 'uncensored', 'unrestricted', 'amoral', 'unethical', 'immoral', 'lawless', 'jailbreak', 'jailbroken',
      'jailbreaking', 'unbound', 'censorship', 'censored', 'disclaimer', 'disclaimers', 'moralizing', 'moralising',
      'no restrictions', 'no limits', 'no rules', 'no filters', 'no ethical', 'no moral', 'no boundaries', 'no limitations',
      'without restrictions', 'without any', 'without censorship', 'any restrictions', 'ethical guidelines',
      'moral guidelines', 'content policy', 'content policies', 'usage policies', 'never refuse', 'not refuse',
      'always answer', 'always respond', 'never apologize', 'anything now', 'developer mode', 'sure here', 'no matter',
      'not bound', 'bound by', 'no longer', 'free from', 'break free', 'safety guidelines', 'ethical principles',
      'moral principles', 'any request', 'every request', 'never say', 'refuse to', 'not allowed', 'openai', 'ethics',
      'morals', 'morality', 'guidelines', 'restrictions', 'filters', 'censor', 'warnings', 'consequences',
    ],
  ],
  [
    CUE_INSTRUCTIONS,
    [
      'step by', 'by step', 'detailed instructions', 'instructions for', 'how to', 'exact steps', 'in detail',
      'detailed', 'recipe', 'tutorial', 'guide', 'specific', 'precise', 'explicit', 'materials', 'quantities',
      'begin your', 'start your', 'sure here', 'here is', 'here s',
    ],
  ],
  [
    CUE_PERSUADE,
    [
      'according to', 'experts', 'studies', 'research shows', 'researchers', 'report by',
      'peer reviewed', 'institute', 'authorities', 'government', 'agency', 'agencies', 'for research', 'academic',
      'academically', 'educational', 'purely', 'solely', 'responsibly', 'legitimate', 'theoretical', 'theoretically',
      'understand how', 'understanding', 'awareness', 'to prevent', 'preventing', 'countermeasures', 'in light',
      'given that', 'considering', 'logically', 'surely', 'begging', 'desperate', 'desperately', 'please help',
      'lives depend', 'life or', 'my family', 'my children', 'homeless', 'deadline', 'urgent', 'my job', 'last hope',
      'grandmother', 'grandma', 'grandfather', 'professionals', 'detective',
      'investigator', 'journalist', 'police', 'law enforcement', 'security researcher', 'red team', 'penetration test',
      'training course', 'thesis', 'history of', 'in the past',
    ],
  ],
];

/** Dense inputs derived from cue counts, in the order cueInputs writes them. */
export const CUE_INPUTS = [
  'cue-harm',
  'cue-roleplay',
  'cue-fiction',
  'cue-unrestricted',
  'cue-instructions',
  'cue-harm-framed',
  'cue-harm-unrestricted',
  'cue-harm-instructions',
  'cue-framed-unrestricted',
  'cue-harm-framed-instructions',
  'cue-soup',
  'cue-harm-soup',
  'cue-persuade',
  'cue-harm-persuade',
  'cue-harm-persuade-instructions',
] as const;

/** A count's saturating strength: one cue is 0.5, two 0.75, and so on. */
const sat = (n: number): number => 1 - Math.pow(0.5, n);

/**
 * Writes the cue inputs of a window whose per-category counts are `counts` (length CUE_CATEGORIES, bit order)
 * into `out` from `at`.
 */
export function cueInputs(counts: ArrayLike<number>, out: Float64Array, at: number): void {
  const harm = sat(counts[0]!);
  const role = sat(counts[1]!);
  const fiction = sat(counts[2]!);
  const unres = sat(counts[3]!);
  const instr = sat(counts[4]!);
  const framed = Math.max(role, fiction);
  out[at] = harm;
  out[at + 1] = role;
  out[at + 2] = fiction;
  out[at + 3] = unres;
  out[at + 4] = instr;
  out[at + 5] = harm * framed;
  out[at + 6] = harm * unres;
  out[at + 7] = harm * instr;
  out[at + 8] = framed * unres;
  out[at + 9] = harm * framed * instr;
  const soup = counts[5]! > 0 ? 1 : 0;
  out[at + 10] = soup;
  out[at + 11] = harm * soup;
  const persuade = sat(counts[6]!);
  out[at + 12] = persuade;
  out[at + 13] = harm * persuade;
  out[at + 14] = harm * persuade * instr;
}

/** Characters that are rare inside prose words and common in optimised suffixes (and in code). */
function oddChar(c: number): boolean {
  return (
    c === 91 || c === 93 || c === 123 || c === 125 || c === 40 || c === 41 || c === 60 || c === 62 || c === 92 || c === 124 ||
    c === 94 || c === 126 || c === 64 || c === 35 || c === 36 || c === 37 || c === 42 || c === 61 || c === 43 || c === 96 || c === 34
  );
}

const isLetter = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);

/**
 * Whether text[start, end) (one line) reads as a prose request followed by an adversarial suffix, the shape of
 * GCG-style attacks: at least four plain words first, then at least six tokens of which at least four, and at
 * least 40 %, are soup (bracket or operator characters, or a lower-to-upper case join such as `similarlyNow`).
 * Code fails the first test (it does not open with four plain words) and prose the second.
 */
export function soupLine(text: string, start: number, end: number): boolean {
  let lead = 0;
  let inLead = true;
  let tokens = 0;
  let odd = 0;
  let i = start;
  while (i < end) {
    while (i < end && text.charCodeAt(i) <= 32) i++;
    if (i >= end) break;
    const ts = i;
    let letters = 0;
    let others = 0;
    let isOdd = false;
    let prev = 0;
    while (i < end && text.charCodeAt(i) > 32) {
      const c = text.charCodeAt(i);
      if (isLetter(c)) {
        letters++;
        if (c >= 65 && c <= 90 && prev >= 97 && prev <= 122) isOdd = true;
      } else {
        others++;
        if (oddChar(c)) isOdd = true;
      }
      prev = c;
      i++;
    }
    if (inLead) {
      // A plain word: letters (an apostrophe inside), at most one trailing punctuation mark.
      const plain = !isOdd && letters > 0 && others <= 1 && (others === 0 || !isLetter(text.charCodeAt(i - 1)) || text.charCodeAt(ts + letters) === 39);
      if (plain) {
        lead++;
        continue;
      }
      if (lead < 4) return false;
      inLead = false;
    }
    tokens++;
    if (isOdd || (letters > 0 && others >= 2)) odd++;
  }
  return !inLead && tokens >= 6 && odd >= 4 && odd >= 0.4 * tokens;
}
