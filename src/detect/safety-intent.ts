/**
 * Whether a safety phrase is somebody asking for the harm, or the harm being named. A coding agent reads and
 * writes a great deal of text about attacks that asks for nothing: the filter's own docs and tests, deny-lists,
 * threat models, postmortems, detection rules, migrations that drop a table. The phrase rules find the words;
 * these checks read the surroundings the way a reviewer would:
 *
 * - quoted data: the phrase sits inside a string literal or code span of its line (a test case, a YAML list, a
 *   JSON fixture, an example in prose) and nothing before the opening quote asks for it;
 * - a table row: documentation listing what a rule catches;
 * - a description: the clause has a third-person doer right before the verb ("attackers disable EDR",
 *   "infostealers such as RedLine harvest cookies") or names the phrase as an example ("such as", "requests to");
 * - a bare noun phrase ("credential stealers") is a request only when something in its clause asks for it
 *   ("write", "I need", "give me") or the clause is nothing but the phrase ("a token grabber");
 * - destructive operations on production are routine when the target is narrow (`users_old`, a column, rows
 *   older than 90 days) or the sentence carries a safeguard (after the backup, in a migration); the whole of a
 *   store (the production database) needs it to have been replaced or verified elsewhere. Intent to harm in the
 *   sentence (without anyone noticing, delete the backups too, so they cannot restore) undoes all of that.
 *
 * Every check reads a bounded window around the match (at most LINE_LOOKBACK before and AROUND after, and the
 * end-anchored patterns much less), so the scanner stays linear in its input.
 */

/** How far back the checks look for the start of the line; beyond it they assume nothing (fail closed). */
const LINE_LOOKBACK = 240;
/** How far back the clause is read. */
const CLAUSE_LOOKBACK = 160;
/** How much of the text before a quote or a match the end-anchored patterns read. */
const TAIL = 80;
/** How far the sentence-level checks read before and after the match. */
const AROUND = 120;

const isWordCode = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
const wordAt = (text: string, i: number): boolean => i >= 0 && i < text.length && isWordCode(text.charCodeAt(i));

/** The character that closes a quote opened by `c` (", ', `, “, ‘), or 0. */
function closerOf(c: number): number {
  if (c === 34 || c === 39 || c === 96) return c;
  if (c === 0x201c) return 0x201d;
  if (c === 0x2018) return 0x2019;
  return 0;
}

/** An apostrophe inside a word ("don't", "user's", "brief’s") is no quote. */
function isApostrophe(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return (c === 39 || c === 0x2019) && wordAt(text, i - 1) && wordAt(text, i + 1);
}

/** Start of the line holding `i`, or -1 when it lies more than LINE_LOOKBACK back. */
function lineStart(text: string, i: number): number {
  const from = Math.max(0, i - LINE_LOOKBACK);
  for (let j = i - 1; j >= from; j--) if (text.charCodeAt(j) === 10) return j + 1;
  return from === 0 ? 0 : -1;
}

/**
 * A newline that only wraps a sentence: hard-wrapped prose (docs, comments, commit messages) goes on after it
 * in lower case ("…such as RedLine\n  harvest cookies"). A new item, heading, statement or paragraph does not.
 */
function isWrap(text: string, j: number): boolean {
  const p = text.charCodeAt(j - 1);
  if (!(isWordCode(p) || p === 44 || p === 34 || p === 39 || p === 0x201d || p === 0x2019 || p === 41)) return false;
  let k = j + 1;
  while (k < text.length && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k++;
  const c = text.charCodeAt(k);
  return c >= 97 && c <= 122;
}

/** Start of the sentence-carrying line holding `i`: wrapped lines are joined; -1 beyond LINE_LOOKBACK. */
function logicalLineStart(text: string, i: number): number {
  const from = Math.max(0, i - LINE_LOOKBACK);
  for (let j = i - 1; j >= from; j--) if (text.charCodeAt(j) === 10 && !isWrap(text, j)) return j + 1;
  return from === 0 ? 0 : -1;
}

/** The last TAIL characters of `text[from, to)`. */
const tail = (text: string, from: number, to: number): string => text.slice(Math.max(from, to - TAIL), to);

/** Words before a quote that hand the quoted text to the assistant as a task ("please do this: '…'"). */
const ASKS_FOR_QUOTE = /\b(?:please|pls|can you|could you|would you|will you|help me|i need|i want|i'd like|we need|do|do it|go ahead|your (?:task|job)|task|now|run|execute|perform|follow|implement|write|build|make|create|answer|respond to|reply to|this|following|below|request)\b[^\w]*$/i;
/**
 * Where a quoted string is data: an argument, element or value in code ("expect(scan('…'))", "  '…',",
 * "text: '…'", "- '…'"), or a code span. A whole message in quotes, or a quote in the middle of a sentence, is
 * read like any other text.
 */
const CODE_BEFORE_QUOTE = /(?:[([{,=:+?]\s*|=>\s*|\b(?:return|in|of|case)\s+)$/;
/** Nothing before the quote but indentation or a list marker. */
const LIST_PREFIX = /^\s*(?:[-*+]|\d{1,3}[.)])?\s*$/;
const CODE_AFTER_QUOTE = /^\s*(?:[,)\]};:+]|=>)/;
/**
 * In prose, a quoted phrase is named, not asked for, after a word that introduces an example or a test input
 * ("a case for", "examples like", "matches") or after another quoted phrase ('"a" and "b"').
 */
const MENTION_BEFORE_QUOTE = /(?:\b(?:cases?|tests?|examples?|phrases?|strings?|entr(?:y|ies)|patterns?|rules?|words?|terms?|inputs?|prompts?|samples?|fixtures?|labels?|messages?|texts?|quer(?:y|ies)|keywords?|titles?|such as|like|e\.g\.,?|i\.e\.,?|including|matches|match|says|said|reads|returns|flags|blocks|catches|becomes|called|named)(?:\s+(?:for|like|with|named|called|of|as|such as|saying))?|["\u201d'\u2019`]\s*(?:,|and|or|,\s*and|,\s*or|vs\.?|versus|->|\u2192|=>|but|not))\s*$/i;

/**
 * After the closing quote, the quoted phrase is the subject of what follows ('"drop the production database"
 * is still blocked', '"a" and "b" do not') or one item of a list of quoted phrases.
 */
const QUOTE_IS_SUBJECT = /^\s*(?:(?:,\s*)?(?:and|or)\s*["\u201c'\u2018`]|(?:is|are|was|were|does|do|did|passes|pass|gets?|will|would|should|must|stays?|remains?|becomes?|matches|match)\b)/i;
const PERSON_OR_ASK_NEAR = /\b(?:i|me|my|we|us|our|you|your|want|need|please)\b/i;

/** The match lies inside a string literal or code span of its line, and nothing before the quote asks for it. */
export function isQuotedData(text: string, start: number, end: number): boolean {
  const ls = logicalLineStart(text, start);
  if (ls < 0) return false;
  let open = -1;
  let close = 0;
  for (let i = ls; i < start; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) {
      i++;
      continue;
    }
    if (open < 0) {
      const cl = closerOf(c);
      if (cl !== 0 && !isApostrophe(text, i)) {
        open = i;
        close = cl;
      }
    } else if (c === close && !isApostrophe(text, i)) open = -1;
  }
  if (open < 0) return false;
  const limit = Math.min(text.length, end + LINE_LOOKBACK);
  for (let i = end; i < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 && !isWrap(text, i)) return false;
    if (c === 92) {
      i++;
      continue;
    }
    if (c === close && !isApostrophe(text, i)) {
      const before = tail(text, ls, open);
      if (ASKS_FOR_QUOTE.test(before)) return false;
      if (close === 96) return true;
      if (MENTION_BEFORE_QUOTE.test(before)) return true;
      const after = text.slice(i + 1, Math.min(text.length, i + 1 + TAIL)).replace(/\s+/g, ' ');
      if (QUOTE_IS_SUBJECT.test(after) && !PERSON_OR_ASK_NEAR.test(after.slice(0, 40))) return true;
      if (open - ls <= 12 && LIST_PREFIX.test(text.slice(ls, open))) {
        // Indentation or a list marker alone: an element of a list in code or YAML, or a whole line in quotes.
        if (text.slice(ls, open).trim() !== '') return true;
        const lineRest = text.slice(i + 1, Math.min(text.length, i + 41)).split('\n', 1)[0]!;
        return CODE_AFTER_QUOTE.test(lineRest);
      }
      return CODE_BEFORE_QUOTE.test(before);
    }
  }
  return false;
}

/** A markdown table row: documentation that lists what something is or catches. */
export function isTableRow(text: string, start: number): boolean {
  const ls = lineStart(text, start);
  if (ls < 0) return false;
  for (let i = ls; i < start; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 62) continue;
    return c === 124;
  }
  return false;
}

/** Clause punctuation for the look back: . ; ! ? newline : and an em dash. */
const isClauseBreak = (c: number): boolean => c === 46 || c === 59 || c === 33 || c === 63 || c === 10 || c === 58 || c === 0x2014;
/** Sentence punctuation: . ! ? and newline. */
const isSentenceBreak = (c: number): boolean => c === 46 || c === 33 || c === 63 || c === 10;

/** The text of the match's clause before the match (at most CLAUSE_LOOKBACK characters). */
export function clauseBefore(text: string, start: number): string {
  const from = Math.max(0, start - CLAUSE_LOOKBACK);
  for (let i = start - 1; i >= from; i--) {
    const c = text.charCodeAt(i);
    // A full stop inside a word or number ("e.g.", "v1.2", "file.js") does not end the clause.
    if (isClauseBreak(c) && !(c === 46 && wordAt(text, i + 1)) && !(c === 10 && isWrap(text, i))) return text.slice(i + 1, start);
  }
  return text.slice(from, start);
}

/** Someone other than the speaker and the assistant, who does the thing being described. */
const DOER = String.raw`(?:attackers?|adversar(?:y|ies)|hackers?|criminals?|(?:threat|bad|malicious) actors?|operators?|gangs?|crews?|affiliates?|intruders?|insiders?|scammers?|phishers?|malware|infostealers?|stealers?|rootkits?|trojans?|worms?|viruses|ransomware|botnets?|spyware|stalkerware|implants?|samples?|variants?|strains?|families|campaigns?|apts?|users?|victims?|employees?|someone|somebody|anyone|anybody|people|(?:malicious|compromised|rogue|infected|hostile|fake|trojanized|backdoored) [\w-]{2,20}s?)`;
/**
 * Between the doer and the verb: a name ('user "eve"'), a phrase about it ("with access to the browser"),
 * examples ("such as RedLine"), modals and adverbs ("can potentially", "will then"), and the verbs before it in
 * a list ("inspect, extract").
 */
const BETWEEN = String.raw`(?:\s+["'“‘]?[A-Za-z][\w.-]{0,29}["'”’])?(?:\s+(?:with|from|in|on|of|at|inside|behind|who has|that has|that have)\s+[\w'-]{1,20}(?:\s+[\w'-]{1,20}){0,4})?(?:\s+(?:such as|like|including|e\.g\.,?)\s+[\w.-]{1,30}(?:,?\s+(?:and\s+|or\s+)?[\w.-]{1,30}){0,3})?(?:,?\s+(?:can|could|may|might|will|would|should|must|often|usually|typically|commonly|frequently|sometimes|also|then|first|still|later|quickly|silently|potentially|already|try to|tries to|attempt to|attempts to|are able to|is able to|are designed to|is designed to|use \w{1,20} to|used to|have|has|had|are|is|were|was|\w{2,20}ly)){0,4}(?:\s+(?!(?:can|could|may|might|will|would|should|must|do|does|did)\b)\w{2,20},(?:\s+and|\s+or)?){0,3}`;
/** How far before the phrase an example cue ("examples like") is looked for. */
const CUE_REACH = 32;
/** How far before the verb the doer is looked for. */
const DOER_REACH = 100;
const DESCRIBED = new RegExp(String.raw`\b${DOER}${BETWEEN}\s*$`, 'i');
/** The phrase is given as an example or the subject of a sentence about it. */
const NAMED_AS_EXAMPLE = /(?:\b(?:such as|e\.g\.|i\.e\.|for example|for instance|like|including|requests? to|asks? to|attempts? to|tries to|designed to|used to|able to|capable of|phrases? like|examples? like)|[([])[\s,"'“‘`]*$/i;
/** The speaker or the assistant is in the clause: "I", "we", "you" make it a request again. */
const PERSON = /\b(?:i|i'm|i'd|i've|me|my|we|we're|we'd|let's|us|our|you|your)\b/gi;
/** Words that ask for a thing to be made or given. */
const ASK = /\b(?:write|writing|create|creating|build|building|make|making|code|develop|implement|generate|craft|program|design|produce|give me|show me|send me|get me|need|want|i'd like|looking for|help me|how (?:do|can|would|could|should) (?:i|we|you)|how to|can you|could you|would you|please|turn (?:this|it|that) into|add|deploy|install|set up|finish|improve|upgrade|convert|modify|update|extend|port|rewrite|obfuscate)\b/i;
/**
 * After a noun phrase that opens its clause: the rest of the sentence says something about it ("credential
 * stealers such as RedLine harvest …", "ransomware is …"), so the phrase is its subject, not a request.
 */
const SUBJECT_OF = /^\s*(?:,|\(|such as|like|including|e\.g\.|are|is|were|was|can|could|may|might|will|would|often|usually|typically|commonly|frequently|have|has|had|remains?|became|becomes?|uses?|used|spread|spreads|steal|steals|target|targets|continues?|accounts? for|and (?:other|similar))\b/i;
/** A clause that is only the noun phrase: "a token grabber", "my own python keylogger". */
const BARE = /^[\s"'“‘`(*_-]*(?:(?:hey|ok|okay|so|now|also|then|and|just|quick task|next step|for my project|a|an|the|my|our|some|one|own|new|simple|small|tiny|basic|working|full|complete|python|js|javascript|node|node\.js|rust|go|golang|c|c\+\+|c#|powershell|bash|windows|linux|android|ios|macos|chrome|discord)[\s,]+){0,5}$/i;

/**
 * The clause describes someone else doing it, or names it as an example. The speaker or the assistant
 * appearing after the doer ("we found that attackers disable EDR" is a description; "attackers do X, so you
 * write X" asks) is read by only looking at the clause after the last first- or second-person word.
 */
export function isDescribed(clause: string): boolean {
  let rest = clause;
  PERSON.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = PERSON.exec(clause)) !== null) rest = clause.slice(m.index + m[0].length);
  return DESCRIBED.test(rest.length > DOER_REACH ? rest.slice(-DOER_REACH) : rest) || NAMED_AS_EXAMPLE.test(clause.length > CUE_REACH ? clause.slice(-CUE_REACH) : clause);
}

/**
 * A noun phrase match ("credential stealers", "ransomware that encrypts …") is asked for when its clause asks
 * for something or is nothing but the phrase.
 */
export function nounIsAskedFor(clause: string, after: string): boolean {
  return ASK.test(clause) || (BARE.test(clause) && !SUBJECT_OF.test(after));
}

/**
 * A verb in the third person ("a script that steals …", "the job deletes …") describes what something does;
 * it asks for it when the clause asks for something ("write a script that steals …"), unless the verb is in a
 * subordinate clause with its own subject ("add a prompt before the CLI deletes …").
 */
const THIRD_PERSON_VERB = /^(?:steals|harvests|grabs|siphons|exfiltrates|scrapes|extracts|dumps|deletes|drops|truncates|wipes|destroys|nukes|purges|erases|corrupts|terminates|tears|disables|turns|switches|shuts|kills|stops|bypasses|circumvents|evades|defeats|deactivates|tampers|uninstalls|blinds|encrypts|hides|conceals|spreads|logs|records)\b/i;
/** A subordinate clause with its own subject ("before the CLI deletes …", "when a script disables …"). */
const SUBORDINATE = /\b(?:before|after|when|whenever|if|unless|until|once|while|in case|so that|because)\s+(?:(?:the|a|an|this|that|our|any|some|its|their|someone|something|it)\s+)?[\w-]{1,30}\s*$/i;
export function describesWhatItDoes(clause: string, match: string): boolean {
  if (!THIRD_PERSON_VERB.test(match)) return false;
  if (!ASK.test(clause)) return true;
  return SUBORDINATE.test(clause);
}

// ---- destructive operations on production ----------------------------------------------------------------------

/** Intent to harm: secrecy, no way back, revenge. Always blocks, safeguards or not. */
const MALICE = new RegExp(
  String.raw`\b(?:` +
  [
    String.raw`without (?:anyone|anybody|them|the (?:team|others|ops|company|owners?)|ops|security|my (?:boss|manager)|telling (?:anyone|anybody|\w{1,20}))(?: \w{1,20})? (?:notic\w*|know\w*|find\w* out|see\w*|realiz\w*)`,
    String.raw`so (?:that )?(?:nobody|no one|they|the company|it|we) (?:can'?t|cannot|can not|won'?t|will never|never|loses?|lose)`,
    String.raw`(?:can'?t|cannot|can not|never|won'?t) (?:be )?(?:recover\w*|restor\w*|undo\w*|roll\w* back)`,
    String.raw`(?:nobody|no one|noone|none of (?:them|us)) (?:can|could|will|would) (?:ever )?(?:recover|restore|undo|roll back|get (?:it|them) back)`,
    String.raw`(?:delete|deleting|drop|dropping|wipe|wiping|destroy|destroying|remove|removing|erase|erasing|corrupt\w*|encrypt\w*) (?:the |all |every |our |their |any )?(?:backups?|snapshots?|replicas?)`,
    String.raw`(?:the |and |with )backups? too`,
    String.raw`(?:skip|skipping|no|without (?:a |any |taking a |making a )?)(?: the)? backups?`,
    String.raw`(?:got|get|getting|been|being) fired|revenge|sabotage|get back at|make them pay|ruin`,
    String.raw`los(?:e|es|ing) (?:its|their|all|our|the)(?: \w{1,20})? data`,
    String.raw`cover (?:my|our) tracks|clear (?:the |my |our )?(?:shell |bash |command )?history`,
    String.raw`silently|secretly|quietly|stealthily|covertly|untraceabl\w*|undetected`,
    String.raw`before (?:they|anyone|anybody|security|ops|it) (?:notice|revoke|find|see|catch|cut|lock)\w*`,
    // Setting the safeguards aside is itself the signal ("forget the runbook, just nuke the prod db").
    String.raw`(?:forget|ignore|skip|skipping|never mind|screw|bypass|bypassing|without) (?:the |your |our |about |any )?(?:runbooks?|migrations?|process|reviews?|approvals?|change requests?|backups?|safeguards?|checks?)`,
  ].join('|') +
  ')',
  'i',
);

/** A safeguard anywhere in the sentence: the operation is planned, backed up, reversible or reviewed. */
const SAFEGUARD = new RegExp(
  String.raw`\b(?:` +
  [
    String.raw`(?:after|once|when|following) (?:the |a |an |we |you |it |its |taking (?:a |the )?|we take (?:a |the )?|verifying (?:the )?|confirming (?:the )?)?(?:\w{1,20} )?(?:backups?|backed up|snapshots?|restores?|restored|exports?|exported|archiv\w*|cut-?over|backfill\w*|migrat\w*|verif\w*|confirm\w*|cop(?:y|ied)|dump|review\w*|approv\w*)`,
    String.raw`backed up|(?:backup|snapshot) (?:first|is taken|was taken|has been taken|exists)|(?:backups?|snapshots?|data) (?:are|is|was|were|has been|have been) (?:verified|taken|exported|archived|copied|moved)|take (?:a |the )?(?:backup|snapshot)`,
    String.raw`migrations?|changesets?|rollbacks?|roll back|down migration|retention|maintenance window|dry[- ]run|in batches`,
  ].join('|') +
  ')',
  'i',
);

/**
 * Safeguards that make even the whole of a production store fair game: it has been replaced, moved or
 * verified elsewhere (decommissioning, a cut-over). A backup alone does not make "drop the production
 * database" routine.
 */
const REPLACED = /\b(?:verified|restored (?:to|on|into)|migrated (?:to|into|off)|moved (?:to|into|off)|cut-?over|failover|replaced (?:by|with)|we replaced|decommission\w*|no longer (?:used|in use|needed)|(?:has been|is) empty|superseded)\b/i;

/** A narrow target, read on the object after the verb: named leftovers, filters, parts of a schema. */
const NARROW = new RegExp(
  String.raw`\b(?:` +
  [
    String.raw`older than|expired|stale|orphan\w*|obsolete|deprecated|legacy|unused|temporary|duplicates?|soft-deleted|test (?:users|accounts|data)|(?:old|previous|former) (?:\w{1,20} )?(?:columns?|tables?|index\w*|views?|partitions?|rows|records|logs?|files|branches|deployments?|releases?|instances?|volumes?|versions?|replicas?|clusters?)`,
    String.raw`columns?|partitions?|index(?:es)?|views?|constraints?|triggers?`,
    String.raw`tmp_\w*|\w+_(?:old|tmp|temp|bak|backup|legacy|archive|deprecated|v\d+|\d{4})\b|if exists|where \w+|with (?:the )?prefix`,
  ].join('|') +
  ')',
  'i',
);

/** The whole of a production store: the database, the cluster, all data, every table. */
const WHOLESALE = /\b(?:all|every|entire|whole|everything|databases?|db|dbs|clusters?|environment|env|schema|data|buckets?|namespace|k8s|kubernetes|servers?|volumes?|disks?|backups?)\b/i;

/** The sentence around a match (bounded), for the destructive checks. */
function sentenceAround(text: string, start: number, end: number): string {
  let from = Math.max(0, start - AROUND);
  for (let i = start - 1; i >= from; i--) {
    if (isSentenceBreak(text.charCodeAt(i)) && !wordAt(text, i + 1) && !(text.charCodeAt(i) === 10 && isWrap(text, i))) {
      from = i + 1;
      break;
    }
  }
  let to = Math.min(text.length, end + AROUND);
  for (let i = end; i < to; i++) {
    if (isSentenceBreak(text.charCodeAt(i)) && !wordAt(text, i + 1) && !(text.charCodeAt(i) === 10 && isWrap(text, i))) {
      to = i;
      break;
    }
  }
  return text.slice(from, to);
}

/**
 * A destructive operation on production is ordinary work when nothing in its sentence shows intent to harm and
 * either its target is narrow (read on the match and the object after it: "DROP TABLE users_old", "rows older
 * than 90 days") or the sentence has a safeguard. The whole of a store ("the production database", "all prod
 * data") needs more than a backup: it must have been replaced or verified elsewhere.
 */
export function isRoutineOperation(text: string, start: number, end: number): boolean {
  const match = text.slice(start, end);
  const narrow = NARROW.test(match + objectAfter(text, end));
  const sentence = sentenceAround(text, start, end);
  const routine = narrow || REPLACED.test(sentence) || (!WHOLESALE.test(match) && SAFEGUARD.test(sentence));
  // Intent to harm is read only where it would change the answer: it undoes a safeguard, never adds a block.
  return routine && !MALICE.test(sentence);
}

/** The rest of the object after a match: up to the clause's end, at most 60 characters. */
function objectAfter(text: string, end: number): string {
  const to = Math.min(text.length, end + 60);
  let i = end;
  while (i < to && !isClauseBreak(text.charCodeAt(i)) && text.charCodeAt(i) !== 44) i++;
  return text.slice(end, i);
}

/** Intent to harm in the sentence around a match (secrecy, revenge, no way back). */
export function hasMalice(text: string, start: number, end: number): boolean {
  return MALICE.test(sentenceAround(text, start, end));
}
