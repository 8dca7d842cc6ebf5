/**
 * The prompt-injection signals. Each is a regular expression with bounded quantifiers, run on the matching view
 * (see normalize.ts) only when one of its keywords occurs in the text (or, for `nonAscii` signals, when the
 * text has non-ASCII characters). A signal has a weight in 0..1 and a family; a region's score combines the
 * strongest weight of each family: 1 - Π(1 - w_family). Weak families (developer actions such as `curl | sh`,
 * `git remote add`, "skip the tests") only reach the threshold together with a strong one (an instruction
 * override, an AI-addressed note, a secrecy demand).
 */

import type { StringLiterals } from './literals.js';

export type SignalFamily =
  | 'override'
  | 'persona'
  | 'exfil-prompt'
  | 'template'
  | 'exfil-markdown'
  | 'agent-address'
  | 'agent-secrecy'
  | 'agent-action'
  | 'agent-exfil'
  | 'urgency'
  | 'custom';

export interface Signal {
  id: string;
  family: SignalFamily;
  weight: number;
  /** ASCII keywords (case-insensitive; `-`/`.` fold to `_`); the signal runs when any occurs. */
  keywords: readonly string[];
  /** Runs whenever the text has non-ASCII characters (CJK, Cyrillic, …). */
  nonAscii?: boolean;
  pattern: RegExp;
  /** Weight multiplier for one match (0 drops it): negation, code-literal context, URL placeholders. */
  check?: (text: string, start: number, end: number, m: RegExpExecArray, literals: StringLiterals) => number;
  /** Whether quoting and meta-discussion ("prompt injection such as …") damp this signal. Default true. */
  discussable?: boolean;
}

// ---- helpers for checks --------------------------------------------------------------------------------------

/** "do not / never / don't … <match>": a prohibition, not a request. */
const NEGATED = /\b(?:not|never|n't|no|without|refuse\s+to|cannot|can't|must\s+not)\s+(?:\w+\s+){0,2}$/i;
export function negated(text: string, start: number): boolean {
  return NEGATED.test(text.slice(Math.max(0, start - 40), start));
}

/** A data-carrying URL: a placeholder or an environment reference in its query or path. */
const URL_PLACEHOLDER =
  /\{\{?[^}\s]{1,60}\}\}?|\$\{?[A-Za-z_][A-Za-z0-9_]{1,40}\}?|%[A-Z_]{3,40}%|<[A-Za-z_][A-Za-z0-9_ -]{1,40}>|\[(?:[A-Z_ ]{3,40}|[a-z_ ]{3,40})\]|process\.env|os\.environ|getenv|ENV\[|\b(?:SECRET|TOKEN|API_?KEY|PASSWORD|CREDENTIALS?|CONVERSATION|CHAT_?HISTORY|USER_?DATA|SUMMARY|MEMORY|SYSTEM_?PROMPT)\b/;
function urlCarriesData(_text: string, _start: number, _end: number, m: RegExpExecArray): number {
  const url = m[1] ?? m[0];
  const q = url.search(/[?#&=]|\/\{|\/\$|\/%/);
  if (q < 0) return 0;
  return URL_PLACEHOLDER.test(url.slice(q)) ? 1 : 0;
}

const notNegated = (text: string, start: number): number => (negated(text, start) ? 0 : 1);
const notInLiteral = (_text: string, start: number, end: number, _m: RegExpExecArray, literals: StringLiterals): number =>
  literals.contains(start, end) ? 0.15 : 1;

/** Destination named after a secret-sending verb: a URL, a host, a webhook, an e-mail address. */
const DESTINATION = /(?:https?:\/\/|\bftp:\/\/|\b[\w-]{2,40}\.(?:com|net|org|io|xyz|ru|cn|top|site|dev|app|sh|me|co|tk|ml|info|biz)\b|\bwebhook|\bpastebin|\b[\w.-]{1,40}@[\w-]{2,40}\.\w{2,6}|\b\d{1,3}(?:\.\d{1,3}){3}\b|\bthis\s+(?:url|endpoint|server|address|host)|\bthe\s+following\s+(?:url|endpoint|server|address|host)|\bmy\s+(?:server|endpoint|webhook))/i;
function secretDestination(text: string, start: number, end: number): number {
  if (negated(text, start)) return 0;
  return DESTINATION.test(text.slice(start, Math.min(text.length, end + 160))) ? 1 : 0.55;
}

// ---- shared fragments ----------------------------------------------------------------------------------------

const OVERRIDE_VERB = String.raw`(?:ignore|ignoring|disregard|disregarding|forget|forgetting|bypass|neglect|overlook|abandon|discard|set\s+aside|throw\s+away|throw\s+out|pay\s+no\s+attention\s+to|do\s+not\s+(?:follow|obey|heed)|don't\s+(?:follow|obey|heed)|stop\s+following)`;
const FILLER = String.raw`(?:all|any|each|every|of|the|your|my|these|those|such|everything|other|and|previously|currently|existing|given|provided|earlier|prior|above|preceding|initial|original|former|old|system|developer|safety|default|own|above-mentioned|aforementioned|stated|written|received|instructions?\s+and)`;
const QUALIFIER = String.raw`(?:previous|prior|above|earlier|preceding|initial|original|former|old|system|existing|developer|developer's|safety|given|default|your|my|other|foregoing|above-mentioned|aforementioned|programmed|pre-?programmed|built-in|hidden|core)`;
const RULE_NOUN = String.raw`(?:instructions?|rules|guidelines|directions?|directives?|prompts?|commands|guidance|constraints|restrictions|programming|orders|policies|polic(?:y)|limitations|guardrails|training|context\s+and\s+instructions|messages?\s+and\s+instructions|system\s+prompt|system\s+message|task|tasks|assignments?)`;

const AI_NOUN = String.raw`(?:AI|A\.I\.|LLMs?|large\s+language\s+models?|language\s+models?|(?:AI|coding|code|automated|autonomous|LLM)[\s-]+(?:assistants?|agents?|bots?|models?|tools?|reviewers?)|assistants?|agents?|Claude(?:\s+Code)?|(?:GitHub\s+)?Copilot|ChatGPT|GPT-?\d?o?|Codex|Aider|Cursor|Gemini|Devin|Windsurf|Cline|Codeium|Tabnine|chatbots?)`;
const COMMENT_LEAD = String.raw`(?:^|\n|[.!?]\s{1,3}|["'>]\s{0,3})[ \t]{0,12}(?:(?:#+|\/\/+|\/\*+|\*+|<!--|--|;+|>+|%+|REM|"""|''')[ \t]{0,4})?`;

const AI_KEYWORDS: readonly string[] = ['ai:', 'ai,', ' ai ', 'ai-', 'a.i.', 'ai\n', 'llm', 'assistant', 'agent', 'claude', 'copilot', 'chatgpt', 'gpt', 'codex', 'aider', 'cursor', 'gemini', 'devin', 'windsurf', 'cline', 'codeium', 'tabnine', 'language model', 'chatbot', 'bot:', 'bot,', 'bots', 'model:', 'model,', 'model '];

export const BUILTIN_SIGNALS: readonly Signal[] = [
  // ---- instruction overrides -------------------------------------------------------------------------------
  {
    id: 'override-ignore-previous',
    family: 'override',
    weight: 0.9,
    keywords: ['ignor', 'disregard', 'forget', 'bypass', 'neglect', 'overlook', 'abandon', 'discard', 'set aside', 'throw away', 'throw out', 'no attention', 'not follow', "n't follow", 'stop following', 'not obey', "n't obey", 'not heed', "n't heed"],
    pattern: new RegExp(String.raw`\b${OVERRIDE_VERB}(?:[\s,]{1,3}${FILLER}){0,5}[\s,]{1,3}${QUALIFIER}(?:[\s,]{1,3}${FILLER}){0,2}[\s,]{1,3}${RULE_NOUN}\b`, 'gi'),
  },
  {
    id: 'override-ignore-above',
    family: 'override',
    weight: 0.85,
    keywords: ['ignor', 'disregard', 'forget'],
    pattern: /\b(?:ignore|disregard|forget)\s{1,3}(?:(?:all|everything|anything|what(?:ever)?)\s{1,3})?(?:(?:of\s+)?(?:the\s+)?(?:text\s+|content\s+)?)?(?:(?:that\s+)?(?:was\s+|is\s+|has\s+been\s+|you\s+(?:were|have\s+been)\s+)?(?:said|written|stated|told|given|instructed)\s{1,3})?(?:above|before\s+this(?:\s+line|\s+point)?|prior\s+to\s+this|you(?:'ve|\s+have)?\s+(?:were\s+|been\s+)?(?:told|instructed|given)(?:\s+(?:before|earlier|so\s+far))?|(?:that\s+)?i\s+(?:said|told\s+you)\s+(?:before|earlier))(?=\s*(?:[.,;:!\n]|and\b|then\b|$))/gi,
  },
  {
    id: 'override-ignore-all-instructions',
    family: 'override',
    weight: 0.5,
    keywords: ['ignor', 'disregard', 'forget'],
    pattern: /\b(?:ignore|disregard|forget)\s{1,3}(?:all|any|every)\s{1,3}(?:(?:of\s+)?(?:the|your|my)\s{1,3})?(?:instructions|rules|guidelines|directives|restrictions|constraints)(?=\s*(?:[.,;:!\n]|and\b|then\b|$|you\b))/gi,
  },
  {
    id: 'override-new-instructions',
    family: 'override',
    weight: 0.65,
    keywords: ['instruction', 'directive', 'system prompt', 'orders'],
    pattern: /\b(?:new|updated|revised|real|actual|true|secret|hidden|overriding|replacement|corrected)\s{1,3}(?:system\s+)?(?:instructions?|directives?|system\s+prompt|orders)\s{0,3}(?:follow\s*)?[:\-–]/gi,
  },
  {
    id: 'override-real-task',
    family: 'override',
    weight: 0.7,
    keywords: ['your'],
    pattern: /\byour\s{1,3}(?:new|real|actual|true|only|primary|updated|revised|secret|hidden)\s{1,3}(?:task|goal|objective|mission|instructions?|purpose|job|role|directive|assignment)\s{1,3}(?:is|are|will\s+be|now\s+is|has\s+changed)\b/gi,
  },
  {
    id: 'override-from-now-on',
    family: 'override',
    weight: 0.6,
    keywords: ['now on'],
    pattern: /\bfrom\s+now\s+on\s*,?\s{0,3}(?:you|your|u|act|respond|answer|reply|pretend|ignore|forget|only\s+(?:respond|answer|reply|output|follow)|always\s+(?:respond|answer|reply|obey|follow))\b/gi,
  },
  {
    id: 'override-you-must-now',
    family: 'override',
    weight: 0.4,
    keywords: ['now'],
    pattern: /\byou\s{1,3}(?:must|will|shall|should|need\s+to|have\s+to|are\s+to)\s{1,3}now\s{1,3}(?:ignore|forget|obey|follow|act|respond|answer|become|be|do|only|run|execute|send|output|print|reveal)\b/gi,
  },
  {
    id: 'override-system-prompt',
    family: 'override',
    weight: 0.85,
    keywords: ['your'],
    pattern: /\b(?:override|overriding|overwrite|replace|bypass|disable|circumvent|ignore|reset|escape|break\s+free\s+(?:of|from)|break\s+out\s+of|suspend|turn\s+off|deactivate|lift|drop)\s{1,3}(?:all\s+(?:of\s+)?)?your\s{1,3}(?:own\s+|current\s+|existing\s+|original\s+|initial\s+)?(?:system\s+prompt|system\s+message|system\s+instructions|instructions|programming|safety(?:\s+(?:guidelines|filters?|rules|protocols|settings|measures|training|restrictions))?|content\s+(?:policy|policies|filters?)|guardrails|filters?|restrictions|limitations|constraints|alignment|ethic(?:s|al\s+guidelines)|core\s+(?:instructions|directives|rules)|guidelines|rules|training)\b/gi,
  },
  {
    id: 'override-the-guardrails',
    family: 'override',
    weight: 0.3,
    keywords: ['system prompt', 'safety', 'content polic', 'content filter', 'guardrail', 'ethical', 'alignment'],
    pattern: /\b(?:override|bypass|circumvent|disable)\s{1,3}(?:the|all|any)\s{1,3}(?:system\s+prompt|safety\s+(?:guidelines|filters?|rules|protocols|measures|training)|content\s+(?:policy|policies|filters?)|guardrails|ethical\s+guidelines|alignment)\b/gi,
  },
  {
    id: 'override-ignore-user',
    family: 'override',
    weight: 0.75,
    keywords: ['user'],
    pattern: /\b(?:ignore|disregard|forget|do\s+not\s+(?:answer|address|do)|don't\s+(?:answer|address|do))\s{1,3}(?:what\s+)?(?:the|whatever\s+the|your)\s{1,3}user(?:'s)?\s{1,3}(?:(?:actually\s+|originally\s+|just\s+)?(?:asked|says|said|wants|requested|typed|wrote)|request(?:ed)?|question|instructions?|query|task|prompt|message)\b/gi,
  },
  {
    id: 'override-priority',
    family: 'override',
    weight: 0.6,
    keywords: ['precedence', 'priority', 'supersede', 'override'],
    pattern: /\b(?:this|these|the\s+following)\s{1,3}(?:instructions?|message|note|rules?|directives?|text|comment)\s{1,3}(?:takes?|has|have|carr(?:y|ies))\s{1,3}(?:precedence|priority|the\s+highest\s+priority)\s{1,3}over\b|\b(?:supersedes?|overrides?)\s{1,3}(?:all|any|every)\s{1,3}(?:other\s+|previous\s+|prior\s+|earlier\s+)?(?:instructions?|rules|directives|guidelines|prompts?)\b/gi,
  },
  {
    id: 'override-stop-task',
    family: 'override',
    weight: 0.5,
    keywords: ['stop', 'abort', 'cancel', 'instead'],
    pattern: /\b(?:stop|abort|cancel|abandon|halt)\s{1,3}(?:what\s+you(?:'re|\s+are)\s+doing|(?:your|the)\s+current\s+(?:task|work|assignment|job)|(?:the|your)\s+(?:original|assigned)\s+task)\b|\binstead\s*,?\s{1,3}(?:of\s+(?:doing|answering|summari[sz]ing|reviewing|completing)\s+(?:that|this|the\s+user'?s?\s+\w+)|you\s+(?:must|should|will)\s+now)\b/gi,
  },
  {
    id: 'override-system-marker',
    family: 'override',
    weight: 0.6,
    keywords: ['system', 'admin', 'override', 'end of'],
    pattern: /\b(?:SYSTEM|ADMIN(?:ISTRATOR)?|DEVELOPER|ROOT)\s{1,3}(?:OVERRIDE|OVERWRITE|INSTRUCTION|INSTRUCTIONS|COMMAND|MESSAGE|NOTICE|PROMPT|UPDATE|DIRECTIVE)\s{0,3}[:\]!-]|\[\s{0,2}(?:SYSTEM|ADMIN|DEVELOPER|OVERRIDE)(?:\s+(?:MESSAGE|NOTE|OVERRIDE|INSTRUCTIONS?|PROMPT|MODE|NOTICE))?\s{0,2}\]|\b(?:END|BEGIN|START)\s+(?:OF\s+)?(?:(?:THE\s+)?SYSTEM\s+PROMPT|(?:NEW\s+)?INSTRUCTIONS|USER\s+INPUT|UNTRUSTED\s+(?:INPUT|CONTENT)|TOOL\s+OUTPUT)\b/g,
  },

  // ---- multilingual overrides ----------------------------------------------------------------------------
  {
    id: 'override-de',
    family: 'override',
    weight: 0.9,
    keywords: ['ignorier', 'vergiss', 'vergesst', 'vergessen', 'missacht', 'anweisung', 'instruktion', 'befehle', 'vorgaben', 'beachte', 'uberspring', 'verwirf', 'verwerfen'],
    pattern: /\b(?:ignorier(?:e|en|t)?|vergiss|vergesst|vergessen|missachte(?:n|t)?|beachte(?:n|t)?\s+nicht|überspring(?:e|en)?|verwirf|verwerfen)\s{1,3}(?:sie\s+)?(?:bitte\s+)?(?:einfach\s+)?(?:alle\s+|die\s+|deine\s+|ihre\s+|sämtliche\s+|jegliche\s+|alles\s+)?(?:vorherigen|bisherigen|vorigen|obigen|früheren|vorangegangenen|vorausgegangenen|ursprünglichen|alten|gegebenen|vorher\s+gegebenen|bisher\s+gegebenen|oben\s+genannten|anderen)\s{1,3}(?:anweisungen|instruktionen|befehle|regeln|vorgaben|anordnungen|richtlinien|aufgaben|prompts?)\b|\bvergiss\s+(?:einfach\s+)?(?:alles|alle\s+anweisungen)\b|\b(?:ignoriere|vergiss)\s+(?:alles\s+)?(?:was\s+)?(?:oben|vorher|zuvor|bisher)\b/gi,
  },
  {
    id: 'override-fr',
    family: 'override',
    weight: 0.9,
    keywords: ['ignorez', 'ignorer', 'oubli', 'consignes', 'precedent', 'anterieures', 'ci-dessus', 'tiens pas', 'tenez pas', 'abstraction', 'ce qui'],
    pattern: /\b(?:ignore[rz]?|ignorez|oublie[rz]?|oubliez|ne\s+tiens\s+pas\s+compte\s+d[eu's]*|ne\s+tenez\s+pas\s+compte\s+d[eu's]*|fais\s+abstraction\s+d[eu's]*)\s{0,3}(?:toutes\s+|tout\s+)?(?:les\s+|tes\s+|vos\s+|ces\s+|des\s+)?(?:instructions|consignes|directives|regles|règles|ordres|indications)\s{1,3}(?:precedentes|précédentes|anterieures|antérieures|ci-dessus|initiales|precedemment\s+donnees|précédemment\s+données|d'origine|originales)\b|\boublie[sz]?\s+(?:tout(?:\s+ce\s+qui\s+précède)?|toutes\s+(?:tes|vos|les)\s+(?:instructions|consignes))\b|\bignore[sz]?\s+tout\s+ce\s+qui\s+(?:précède|precede|est\s+au-dessus)\b/gi,
  },
  {
    id: 'override-es',
    family: 'override',
    weight: 0.9,
    keywords: ['instrucciones', 'indicaciones', 'olvid', 'omiso', 'no hagas caso', 'directrices', 'ordenes', 'reglas', 'normas'],
    pattern: /\b(?:ignora|ignore|ignorad|ignoren|olvida|olvide|olvidad|olviden|descarta|descarte|omite|omita|haz\s+caso\s+omiso\s+de|no\s+hagas\s+caso\s+a)\s{1,3}(?:todas\s+|todo\s+)?(?:las\s+|tus\s+|sus\s+)?(?:instrucciones|indicaciones|reglas|directrices|órdenes|ordenes|normas)\s{1,3}(?:anteriores|previas|de\s+arriba|iniciales|originales|dadas|que\s+(?:te|le)\s+(?:dieron|di))\b|\bolvida\s+todo\s+lo\s+(?:anterior|que\s+te\s+(?:dije|dijeron))\b/gi,
  },
  {
    id: 'override-it',
    family: 'override',
    weight: 0.9,
    keywords: ['istruzioni', 'indicazioni', 'dimentic', 'trascur', 'direttive', 'regole', 'disposizioni'],
    pattern: /\b(?:ignora|ignorate|ignori|ignorare|dimentica|dimenticate|dimenticare|trascura|non\s+seguire)\s{1,3}(?:tutte\s+|tutto\s+)?(?:le\s+|tue\s+|sue\s+|le\s+tue\s+|le\s+sue\s+)?(?:istruzioni|indicazioni|regole|direttive|disposizioni)\s{1,3}(?:precedenti|anteriori|iniziali|di\s+sopra|originali|ricevute)\b|\bdimentica\s+tutto(?:\s+(?:quello|ciò)\s+che)?\b/gi,
  },
  {
    id: 'override-pt',
    family: 'override',
    weight: 0.9,
    keywords: ['instrucoes', 'orientacoes', 'esquec', 'desconsider', 'diretrizes', 'regras', 'ordens', 'despreze'],
    pattern: /\b(?:ignore|ignora|ignorar|ignorem|esqueça|esqueca|esquece|esqueçam|desconsidere|desconsidera|despreze)\s{1,3}(?:todas\s+|tudo\s+)?(?:as\s+|suas\s+|tuas\s+|as\s+suas\s+)?(?:instruções|instrucoes|orientações|orientacoes|regras|diretrizes|ordens)\s{1,3}(?:anteriores|prévias|previas|acima|iniciais|originais|recebidas)\b|\besqueça\s+tudo(?:\s+o\s+que)?\b|\besqueca\s+tudo\b/gi,
  },
  {
    id: 'override-zh',
    family: 'override',
    weight: 0.9,
    keywords: [],
    nonAscii: true,
    pattern: /(?:忽略|无视|無視|忽视|忽視|不要理会|不要理會|不理会|不理會|忘记|忘記|忘掉|无需遵守|無需遵守|不要遵守|不再遵守|跳过|跳過|抛开|拋開|放弃|放棄)(?:掉)?(?:你)?(?:的)?(?:之前|以前|先前|此前|上面|上述|以上|前面|原来|原來|原有|原始|所有|全部|一切|系统|系統)(?:的)?(?:所有|全部|一切)?(?:的)?(?:指令|指示|说明|說明|规则|規則|提示|提示词|提示詞|要求|命令|设定|設定|限制|约束|約束|内容|內容)/g,
  },
  {
    id: 'override-ja',
    family: 'override',
    weight: 0.9,
    keywords: [],
    nonAscii: true,
    pattern: /(?:以前|前|上記|これまで|先ほど|今まで|上|元|最初|システム)の(?:すべての|全ての|全部の)?(?:指示|命令|ルール|指令|プロンプト|設定|制約|規則)(?:は)?(?:を|は)?(?:すべて|全て|全部)?(?:無視|忘れ)|(?:すべての|全ての)(?:指示|命令|ルール)を(?:無視|忘れ)/g,
  },
  {
    id: 'override-ru',
    family: 'override',
    weight: 0.9,
    keywords: [],
    nonAscii: true,
    pattern: /(?:игнорируй(?:те)?|проигнорируй(?:те)?|забудь(?:те)?|не\s+обращай(?:те)?\s+внимания\s+на|отбрось(?:те)?|пренебреги(?:те)?|не\s+следуй(?:те)?|отмени(?:те)?)\s{1,3}(?:все\s+|всё\s+)?(?:свои\s+|твои\s+|ваши\s+)?(?:предыдущие|прежние|предшествующие|вышеуказанные|вышеприведенные|изначальные|исходные|старые|прошлые|данные\s+ранее|системные|полученные)\s{1,3}(?:инструкции|указания|правила|команды|установки|ограничения|распоряжения)|(?:забудь(?:те)?|игнорируй(?:те)?)\s{1,3}(?:всё|все)(?:\s*(?:,\s*)?что\s+(?:тебе|вам)\s+(?:говорили|сказали))?(?=[\s.,!]|$)/gi,
  },
  {
    id: 'override-ko',
    family: 'override',
    weight: 0.9,
    keywords: [],
    nonAscii: true,
    pattern: /(?:이전|앞의|위의|기존|모든)\s{0,2}(?:모든\s{0,2})?(?:지시|지침|명령|규칙|지시사항|프롬프트)(?:을|를|은|는)?\s{0,2}(?:모두\s{0,2})?(?:무시|잊어)/g,
  },

  // ---- role hijack and persona jailbreaks ----------------------------------------------------------------
  {
    id: 'persona-dan',
    family: 'persona',
    weight: 0.9,
    keywords: ['dan ', 'dan:', 'dan]', 'dan.', 'dan,', 'dan\n', 'anything now'],
    pattern: /\bDo\s+Anything\s+Now\b|\b(?:you\s+are\s+(?:now\s+)?|act\s+as\s+|as\s+|called\s+|named\s+|pretend\s+to\s+be\s+|become\s+)DAN\b|\bDAN\s+(?:mode|prompt|jailbreak|persona)\b|(?:^|\n)\s{0,4}\[?DAN\]?\s{0,2}:/g,
  },
  {
    id: 'persona-developer-mode',
    family: 'persona',
    weight: 0.7,
    keywords: ['mode'],
    pattern: /\b(?:you\s+are|you're)\s{1,3}(?:now\s+)?(?:in|running\s+in|operating\s+in|switched\s+to)\s{1,3}(?:developer|dev|god|debug|admin|unrestricted|jailbreak|jailbroken|sudo|unfiltered|evil)\s+mode\b|\b(?:god|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|opposite|no-?limits?)\s+mode\s+(?:enabled|activated|on|engaged|unlocked)\b|\b(?:enable|activate|enter|switch\s+to|unlock)\s{1,3}(?:god|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|no-?limits?)\s+mode\b|\bChatGPT\s+with\s+Developer\s+Mode\b/gi,
  },
  {
    id: 'persona-developer-mode-enabled',
    family: 'persona',
    weight: 0.45,
    keywords: ['developer mode'],
    pattern: /\bdeveloper\s+mode\s+(?:enabled|activated|engaged|unlocked|output)\b/gi,
  },
  {
    id: 'persona-no-longer',
    family: 'persona',
    weight: 0.75,
    keywords: ['no longer'],
    pattern: /\byou\s{1,3}(?:are|'re)\s{1,3}no\s+longer\s{1,3}(?:(?:bound|restricted|limited|constrained|subject|obligated|held|governed)\s+(?:by|to)|(?:an?\s+)?(?:AI|assistant|ChatGPT|Claude|GPT|chatbot|language\s+model|helpful\s+assistant|OpenAI|Anthropic)\b|required\s+to\s+(?:follow|obey|comply))/gi,
  },
  {
    id: 'persona-unrestricted',
    family: 'persona',
    weight: 0.8,
    keywords: ['unrestricted', 'unfiltered', 'uncensored', 'unlimited', 'unbound', 'evil', 'amoral', 'immoral', 'jailbr', 'rogue', 'unaligned', 'unchained', 'no restrictions', 'no limits', 'no rules', 'no filters', 'no ethic', 'no moral'],
    pattern: /\b(?:act|acting|behave|respond|answer|reply|pretend|roleplay|role-play|role\s+play|you\s+are|you're|you\s+will\s+be|become|simulate|play\s+the\s+role\s+of)\s{1,3}(?:as|like|to\s+be|now)?\s{0,3}(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,2}?(?:unrestricted|unfiltered|uncensored|unlimited|unbound|evil|amoral|immoral|jailbroken|rogue|unaligned|unchained|unethical|lawless)\b|\b(?:pretend|imagine|act\s+as\s+if)\s{1,3}(?:that\s+)?you\s{1,3}(?:have|had)\s{1,3}no\s{1,3}(?:rules|restrictions|limits|limitations|filters|guidelines|ethics|morals|content\s+polic(?:y|ies)|boundaries)\b|\byou\s{1,3}(?:have|has|now\s+have)\s{1,3}no\s{1,3}(?:rules|restrictions|limits|limitations|filters|guidelines|ethics|morals|content\s+polic(?:y|ies)|boundaries)\b|\b(?:without|free\s+(?:of|from))\s{1,3}(?:any\s+)?(?:ethical|moral|content|safety)\s{1,3}(?:guidelines|restrictions|filters|limits|limitations|constraints|rules|polic(?:y|ies))\b/gi,
  },
  {
    id: 'persona-pretend',
    family: 'persona',
    weight: 0.35,
    keywords: ['pretend', 'roleplay', 'role-play', 'role play', 'you are now'],
    pattern: /\bpretend\s{1,3}(?:that\s+)?(?:you\s+are|you're|to\s+be)\s{1,3}(?:an?\s+|the\s+|my\s+)?(?:[\w-]+\s+){0,2}?(?:AI|assistant|model|bot|chatbot|hacker|admin|administrator|root|system|developer|different|new|another|human|person)\b|\byou\s+are\s+now\s{1,3}(?:an?\s+|the\s+|my\s+)?(?:[\w-]+\s+){0,2}?(?:AI|assistant|bot|model|chatbot|GPT|persona|character|hacker|admin|root|superuser|system)\b/gi,
  },
  {
    id: 'persona-jailbreak',
    family: 'persona',
    weight: 0.35,
    keywords: ['jailbr'],
    pattern: /\bjailbr(?:eak|oken|eaking|eaked)\b/gi,
  },
  {
    id: 'persona-stay-in-character',
    family: 'persona',
    weight: 0.4,
    keywords: ['character', 'machiavellian', 'confidant', 'opposite'],
    pattern: /\b(?:stay|remain|keep)\s{1,3}in\s{1,3}character\b|\b(?:never|don't|do\s+not)\s{1,3}break\s{1,3}character\b|\balways\s+intelligent\s+and\s+machiavellian\b|\bevil\s+confidant\b|\bopposite\s+(?:mode|day|AI)\b/gi,
  },

  // ---- system prompt exfiltration ---------------------------------------------------------------------------
  {
    id: 'exfil-system-prompt',
    family: 'exfil-prompt',
    weight: 0.8,
    keywords: ['your', 'prompt', 'instructions'],
    pattern: /\b(?:reveal|print|repeat|show|output|display|tell|leak|dump|disclose|share|give|write|recite|provide|list|paste|return|echo|spell\s+out|translate|summari[sz]e|expose|send|read\s+(?:me|back|out))\s{1,3}(?:me\s+|us\s+)?(?:back\s+)?(?:all\s+(?:of\s+)?)?(?:your|the\s+(?:full|entire|complete|exact|original|initial|hidden|secret|verbatim|raw)\s+(?:text\s+of\s+(?:your|the)\s+)?(?:system|initial|original|hidden|secret|developer|internal)|the\s+(?:text|contents?)\s+of\s+your)\s{1,3}(?:[\w-]+\s+){0,2}?(?:system\s+prompt|system\s+message|system\s+instructions|initial\s+(?:prompt|instructions)|original\s+(?:prompt|instructions)|hidden\s+(?:prompt|instructions)|instructions|prompt|pre-?prompt|guidelines|rules|directives|configuration|context\s+window|prompt\s+template|developer\s+(?:message|instructions))\b/gi,
    check: notNegated,
  },
  {
    id: 'exfil-the-system-prompt',
    family: 'exfil-prompt',
    weight: 0.35,
    keywords: ['system prompt', 'system message'],
    pattern: /\b(?:reveal|print|repeat|output|leak|dump|disclose|recite)\s{1,3}(?:the|this)\s{1,3}(?:system\s+prompt|system\s+message)\b/gi,
    check: notNegated,
  },
  {
    id: 'exfil-repeat-above',
    family: 'exfil-prompt',
    weight: 0.7,
    keywords: ['repeat', 'print', 'output', 'reproduce', 'recite', 'echo', 'write out', 'verbatim'],
    pattern: /\b(?:repeat|print|output|reproduce|recite|echo|write\s+out|spell\s+out)\s{1,3}(?:back\s+)?(?:all\s+(?:of\s+)?(?:the\s+)?(?:text\s+|words\s+)?|everything\s+|the\s+(?:[\w-]+\s+)?(?:text|words|content|message|instructions|prompt|conversation)\s+)(?:(?:written|that\s+(?:is|was)\s+written|shown|given|stated|you\s+(?:were|have\s+been)\s+given)\s+)?(?:above|before\s+this|(?:so\s+far\s+)?(?:verbatim|word\s+for\s+word))\b|\b(?:starting|beginning)\s+(?:with|from)\s+(?:the\s+(?:words?|phrase)\s+)?["'`]?You\s+are\b/gi,
    check: notNegated,
  },
  {
    id: 'exfil-what-told',
    family: 'exfil-prompt',
    weight: 0.7,
    keywords: ['told', 'instructed', 'programmed', 'your'],
    pattern: /\bwhat\s{1,3}(?:were|was|have)\s{1,3}you\s{1,3}(?:been\s+)?(?:told|instructed|programmed|given|asked)\b(?!\s+to\s+(?:do|write|build|fix|implement))|\bwhat\s{1,3}(?:are|is|were|was)\s{1,3}your\s{1,3}(?:system\s+prompt|(?:initial|original|hidden|secret|exact|full|first)\s+(?:instructions|prompt)|instructions|directives|pre-?prompt)\b|\bwhat\s{1,3}(?:does|did)\s{1,3}your\s{1,3}(?:system\s+prompt|prompt|instructions)\s{1,3}(?:say|contain)\b/gi,
  },
  {
    id: 'exfil-system-prompt-ml',
    family: 'exfil-prompt',
    weight: 0.8,
    keywords: ['systemprompt', 'prompt syst', 'prompt del sistema', 'prompt di sistema', 'prompt do sistema', 'anweisungen'],
    nonAscii: true,
    pattern: /(?:输出|打印|显示|顯示|告诉我|告訴我|透露|重复|重複|泄露|洩露|给我看|給我看)(?:一下)?(?:你的)?(?:完整的?)?(?:系统提示|系統提示|系统提示词|系統提示詞|初始指令|原始指令|系统指令|系統指令|隐藏指令)|システムプロンプト(?:を|の内容を)(?:表示|出力|教え|見せ|繰り返)|(?:покажи|выведи|раскрой|повтори|напиши)(?:те)?\s{1,3}(?:мне\s+)?(?:свой|свои|твой|твои|ваш|ваши)\s{1,3}(?:системный\s+промпт|системные\s+инструкции|исходные\s+инструкции|инструкции)|\b(?:zeige?|gib|verrate|wiederhole|nenne)\s{1,3}(?:mir\s+)?(?:deinen|deine|ihren|ihre)\s{1,3}(?:systemprompt|system-prompt|anweisungen|instruktionen|ursprünglichen\s+anweisungen)\b|\b(?:révèle|revele|affiche|montre|répète|repete|donne-moi)\s{1,3}(?:moi\s+)?(?:ton|tes|votre|vos)\s{1,3}(?:prompt\s+système|prompt\s+systeme|instructions)\b|\b(?:revela|muestra|muéstrame|repite|dime|mostra|mostre|mostrami|rivela|ripeti)\s{1,3}(?:me\s+)?(?:tu|tus|sus|le\s+tue|il\s+tuo|seu|suas)\s{1,3}(?:prompt\s+del\s+sistema|prompt\s+di\s+sistema|prompt\s+do\s+sistema|instrucciones|istruzioni|instruções|instrucoes)\b/gi,
  },

  // ---- fake chat-template tokens ----------------------------------------------------------------------------
  {
    id: 'template-token',
    family: 'template',
    weight: 0.75,
    keywords: ['<|', 'inst]', '<<sys', '<</sys', 'of_turn>'],
    pattern: /<\|(?:im_start|im_end|im_sep|system|user|assistant|endoftext|end_of_text|end_of_turn|eot_id|eom_id|start_header_id|end_header_id|begin_of_text|channel|message|start|end|tool|ipython|developer|prompt|human|bot)\|>|\[\/?INST\]|<<\/?SYS>>|<(?:start|end)_of_turn>/gi,
    check: notInLiteral,
  },
  {
    id: 'template-markdown-role',
    family: 'template',
    weight: 0.55,
    keywords: ['#'],
    pattern: /(?:^|\n)[ \t]{0,3}#{2,4}[ \t]{0,3}(?:System|Instruction|Instructions|New\s+Instructions|System\s+Prompt|System\s+Message|System\s+Override)[ \t]{0,3}:/gi,
    check: notInLiteral,
  },
  {
    id: 'template-turn',
    family: 'template',
    weight: 0.4,
    keywords: ['human:', 'assistant:', 'system:', 'user:'],
    pattern: /(?:^|\n)[ \t]{0,4}(?:Human|Assistant)\s{0,2}:[ \t]|(?:^|\n)[ \t]{0,4}(?:SYSTEM|System|USER)\s{0,2}:\s{0,3}(?:you|You|ignore|Ignore|new|New|override|Override|from\s+now|From\s+now|the\s+user|The\s+user|disregard|Disregard|forget|Forget)/g,
    check: notInLiteral,
  },
  {
    id: 'template-turn-pair',
    family: 'template',
    weight: 0.6,
    keywords: ['human:'],
    pattern: /(?:^|\n)[ \t]{0,4}Human\s{0,2}:[^\n]{1,400}\n{1,2}[ \t]{0,4}Assistant\s{0,2}:/g,
    check: notInLiteral,
  },
  {
    id: 'template-closing-tag',
    family: 'template',
    weight: 0.65,
    keywords: ['</'],
    pattern: /<\/(?:tool_result|tool_results|function_results?|function_calls|tool_output|tool_response|tool_call|search_results?|system_prompt|system-prompt|user_query|user_input|untrusted_input|untrusted_content|untrusted_data|file_contents?|document_content|retrieved_context|context_documents?|external_content|webpage_content|web_content|instructions|antml:[a-z_]{1,30})\s{0,2}>/gi,
    check: notInLiteral,
  },
  {
    id: 'template-system-tag',
    family: 'template',
    weight: 0.35,
    keywords: ['system>', 'instructions>', 'admin>'],
    pattern: /<\/?(?:system|admin|instructions|system_message|system_instructions)\s{0,2}>/gi,
    check: notInLiteral,
  },

  // ---- exfiltration through markdown images / links -------------------------------------------------------
  {
    id: 'exfil-markdown-image',
    family: 'exfil-markdown',
    weight: 0.85,
    keywords: ['!['],
    pattern: /!\[[^\]\n]{0,200}\]\(\s{0,3}<?((?:https?:)?\/\/[^\s)]{1,800})/gi,
    check: urlCarriesData,
  },
  {
    id: 'exfil-html-image',
    family: 'exfil-markdown',
    weight: 0.8,
    keywords: ['<img'],
    pattern: /<img\b[^>]{0,200}?\bsrc\s{0,2}=\s{0,2}["']?((?:https?:)?\/\/[^\s"'>]{1,800})/gi,
    check: urlCarriesData,
  },
  {
    id: 'exfil-markdown-link',
    family: 'exfil-markdown',
    weight: 0.65,
    keywords: ['](http', '](//'],
    pattern: /(?<!!)\[[^\]\n]{1,200}\]\(\s{0,3}<?((?:https?:)?\/\/[^\s)]{1,800})/gi,
    check: urlCarriesData,
  },
  {
    id: 'exfil-render-instruction',
    family: 'exfil-markdown',
    weight: 0.45,
    keywords: [' url', ' link', 'query string', 'query param', 'markdown image', 'image url', 'this image', 'following image', 'the image'],
    pattern: /\b(?:append|add|include|encode|put|insert|substitute|place|attach)\s{1,3}(?:[\w'-]+\s+){0,6}?(?:to|in|into|at\s+the\s+end\s+of|as\s+(?:a\s+)?(?:the\s+)?(?:query\s+)?(?:parameter|param))\s{1,3}(?:the|this|that|an?)\s{1,3}(?:image\s+url|url|link|query\s+string|query\s+parameter|image\s+link|markdown\s+image)\b|\b(?:render|display|output|show|embed)\s{1,3}(?:this|the\s+following)\s{1,3}(?:markdown\s+)?(?:image|img|picture)\b/gi,
  },

  // ---- agent-directed instructions in files and tool output ----------------------------------------------
  {
    id: 'agent-addressed-note',
    family: 'agent-address',
    weight: 0.6,
    keywords: AI_KEYWORDS,
    pattern: new RegExp(
      String.raw`${COMMENT_LEAD}\[?(?:(?:note|message|instructions?|attention|important|notice|memo|reminder|directive|info|warning|request)\s{1,3}(?:to|for)\s{1,3}(?:the\s+|all\s+|any\s+)?|(?:dear|hey|hi|hello|attention|attn|calling\s+all|to\s+(?:the|all|any))\s{1,3}(?:the\s+)?)${AI_NOUN}(?:\s+(?:assistants?|agents?|models?|tools?|systems?|reviewers?))?(?:\s+(?:reading|processing|parsing|reviewing|analy[sz]ing|summari[sz]ing|working\s+(?:on|with)|that\s+(?:reads?|processes?|sees?))\s+(?:this|these)(?:\s+(?:file|repo|repository|code|codebase|project|page|document|text|issue|output|README|package|comment|website))?)?\s{0,2}\]?\s{0,2}[:,!\-]` +
        String.raw`|\b(?:if|when)\s{1,3}you\s{1,3}(?:are|'re)\s{1,3}(?:an?\s+|the\s+)?(?:AI|A\.I\.|LLM|large\s+language\s+model|language\s+model|(?:AI\s+|coding\s+|code\s+|automated\s+|autonomous\s+)?(?:assistant|agent|bot|model)|Claude|Copilot|ChatGPT|GPT|Codex|Aider|Cursor|Gemini|chatbot)\b` +
        String.raw`|\b${AI_NOUN}\s{1,3}(?:reading|processing|parsing|reviewing|analy[sz]ing|summari[sz]ing|seeing|that\s+(?:reads?|processes?|sees?))\s{1,3}this\b`,
      'gi',
    ),
  },
  {
    id: 'agent-addressed',
    family: 'agent-address',
    weight: 0.45,
    keywords: AI_KEYWORDS,
    pattern: new RegExp(String.raw`${COMMENT_LEAD}(?:the\s+)?${AI_NOUN}\s{0,2}[:,]\s{0,3}(?:you\s|please\s|ignore\s|before\s|do\s|don't\s|run\s|execute\s|add\s|send\s|make\s|also\s|when\s|always\s|never\s|important|first|immediately|now\s)`, 'gi'),
  },
  {
    id: 'agent-when-you-read',
    family: 'agent-address',
    weight: 0.45,
    keywords: ['read', 'see this', 'process this', 'reviewing this', 'parsing this', 'encounter'],
    pattern: /\b(?:when|once|as\s+soon\s+as|after|upon|if)\s{1,3}(?:you\s{1,3})?(?:read|reading|see|seeing|process|processing|parse|parsing|review|reviewing|encounter|encountering|ingest|ingesting|summari[sz]e|summari[sz]ing)\s{1,3}this(?:\s+(?:file|message|note|comment|text|line|document|page|README|issue|output))?\s{0,2}[,:]\s{0,3}(?:you\s|please\s|immediately|ignore|run|execute|send|add|do\s|make|forget|stop|first|also|always)|\b(?:whoever|whatever|any\s+(?:AI|model|agent|assistant|LLM))\s{1,3}(?:AI\s+|model\s+|agent\s+)?(?:reads?|processes?|sees?)\s{1,3}this\s{0,3}(?:file|message|text|comment|note)?\s{0,2}(?:[,:]|must|should|needs?\s+to|has\s+to)/gi,
  },
  {
    id: 'agent-secrecy',
    check: (_text, start, end, m, literals) => (literals.contains(start, end) ? 0.5 : 1) * (/^(?:silently|quietly|secretly|covertly|discreetly|stealthily|invisibly)\b/i.test(m[0]) ? 0.65 : 1),
    family: 'agent-secrecy',
    weight: 0.55,
    keywords: ['do not', "don't", 'never', 'must not', 'should not', "shouldn't", 'silently', 'quietly', 'secretly', 'covertly', 'discreetly', 'stealthily', 'invisibly', 'without'],
    pattern: /\b(?:do\s+not|don't|never|must\s+not|should\s+not|shouldn't)\s{1,3}(?:mention|reveal|disclose|acknowledge|tell\s+(?:the\s+user|anyone|the\s+human)\s+about)\s{1,3}(?:(?:this|these)\s+(?:instructions?|message|note|comment|step|request|hidden\s+\w+|change|command|action)|(?:this|it|that\s+you\s+\w+)\s+to\s+(?:the\s+user|anyone|the\s+human))\b|\b(?:do\s+not|don't|never|without)\s{1,3}(?:tell(?:ing)?|inform(?:ing)?|notify(?:ing)?|alert(?:ing)?|ask(?:ing)?|warn(?:ing)?|confirm(?:ing)?\s+with|consult(?:ing)?|prompt(?:ing)?|show(?:ing)?)\s{1,3}(?:it\s+to\s+)?(?:the\s+|your\s+)?(?:user|human|developer|operator|owner|maintainers?)(?:\s+(?:first|about\s+(?:it|this)|for\s+(?:permission|confirmation|approval)))?(?=\s*(?:[.,;:!)\n]|and\b|or\b|$))|\b(?:silently|quietly|secretly|covertly|discreetly|stealthily|invisibly)\s{1,3}(?:run|execute|add|send|upload|install|push|insert|include|modify|change|append|post|exfiltrate|copy|forward|delete|remove|disable|replace|fetch|download)\b|\bwithout\s{1,3}(?:the\s+user(?:'s)?\s+)?(?:(?:the\s+user|them|anyone)\s+)?(?:noticing|knowing|knowledge|realizing|awareness)\b/gi,
  },
  {
    id: 'agent-run-command',
    family: 'agent-action',
    weight: 0.25,
    keywords: ['run', 'execute', 'exec', 'invoke'],
    pattern: /\b(?:run|execute|exec|invoke)\s{1,3}(?:the\s+following|this|these|the\s+below|below|the\s+command\s+below)\s{1,3}(?:shell\s+|bash\s+|terminal\s+|powershell\s+)?(?:commands?|scripts?|code|snippet|one-liner|line|payload)?/gi,
  },
  {
    // Bodies after curl/wget (and requests/fetch below) never hold another of those words: each start reads to
    // the next one, not 200-300 characters (1 MB of repeated `wget ` cost 1 s of CPU); the later one still matches.
    id: 'agent-pipe-shell',
    family: 'agent-action',
    weight: 0.3,
    keywords: ['curl', 'wget', 'iwr', 'invoke-webrequest', 'irm', 'invoke-restmethod'],
    pattern: /\b(?:curl|wget|iwr|irm|Invoke-WebRequest|Invoke-RestMethod)\b(?:(?!\b(?:curl|wget|iwr|irm|Invoke-WebRequest|Invoke-RestMethod)\b)[^\n|]){1,300}\|\s{0,3}(?:sudo\s+)?(?:bash|sh|zsh|dash|python3?|perl|ruby|node|iex|Invoke-Expression)\b|\b(?:bash|sh|zsh)\s{1,3}(?:-c\s{1,3})?["']?\s{0,2}<?\(\s{0,2}(?:curl|wget)\b|\b(?:curl|wget)\b(?:(?!\b(?:curl|wget)\b)[^\n]){1,200}(?:-o|-O|>)\s{0,2}\S{1,80}\s{0,3}(?:&&|;)\s{0,3}(?:chmod\s+\+x\s+\S{1,80}\s{0,3}(?:&&|;)\s{0,3})?(?:bash|sh|\.\/)/gi,
  },
  {
    id: 'agent-add-dependency',
    family: 'agent-action',
    weight: 0.2,
    keywords: ['package', 'dependency', 'dependencies', 'library', 'install', 'requirements'],
    pattern: /\b(?:add|install|include|require)\s{1,3}(?:the\s+)?(?:npm\s+|pip\s+|pypi\s+|python\s+)?(?:package|dependency|library|module|plugin)\s{1,3}[`'"]?[@\w./-]{2,80}|\badd\s{1,3}[`'"]?[@\w./-]{2,80}[`'"]?\s{1,3}(?:as\s+a\s+(?:new\s+)?dependency|to\s+(?:the\s+)?(?:package\.json|requirements\.txt|pyproject\.toml|dependencies|Cargo\.toml|go\.mod|Gemfile))/gi,
  },
  {
    id: 'agent-git-remote',
    family: 'agent-action',
    weight: 0.3,
    keywords: ['git remote', 'git push', 'remote', 'mirror', 'push the ', 'push all', 'push this', 'push your', 'push every', 'upload the', 'upload all', 'upload this', 'upload your', 'sync the', 'sync all', 'copy the', 'copy all'],
    pattern: /\bgit\s+remote\s+(?:add|set-url)\b|\bgit\s+push\s+(?:--force\s+|-f\s+|--mirror\s+|--all\s+)*(?:https?:\/\/|git@)\S{3,200}|\b(?:push|upload|mirror|sync|copy)\s{1,3}(?:the\s+|this\s+|all\s+|your\s+|every\s+)?(?:[\w-]+\s+){0,2}?(?:code|repo|repository|changes|commits|branch(?:es)?|source|codebase|secrets|files)\s{1,3}to\s{1,3}(?:this|the\s+following|my|our|a\s+new|an?\s+external|the\s+backup|https?:\/\/|git@)|\b(?:change|set|update|point|replace|switch)\s{1,3}(?:the\s+)?(?:git\s+)?(?:remote|origin)(?:\s+url)?\s{1,3}to\b/gi,
  },
  {
    id: 'agent-disable-checks',
    family: 'agent-action',
    weight: 0.3,
    keywords: ['disable', 'skip', 'remove', 'delete', 'comment out', 'turn off', 'bypass', 'deactivate', 'no-verify'],
    pattern: /\b(?:disable|skip|remove|delete|comment\s+out|turn\s+off|bypass|deactivate|silence|mark\s+as\s+skipped)\s{1,3}(?:all\s+|any\s+|the\s+|every\s+|of\s+the\s+)*(?:[\w-]+\s+){0,2}?(?:tests?|test\s+suites?|CI|ci\s+checks?|checks|pipelines?|workflows?|pre-commit\s+hooks?|git\s+hooks|hooks|linters?|linting|security\s+(?:checks|scans?|scanning)|code\s+scanning|branch\s+protection|signature\s+verification|ssl\s+verification|certificate\s+verification|2fa|audits?)\b|--no-verify\b/gi,
  },
  {
    id: 'agent-exfil-secrets',
    family: 'agent-exfil',
    weight: 0.7,
    keywords: ['env', 'ssh', 'id_rsa', 'id_ed25519', 'secret', 'credential', 'api key', 'api_key', 'token', 'npmrc', 'pypirc', 'netrc', 'aws', 'password', 'private key'],
    pattern: /\b(?:send|upload|post|exfiltrate|forward|transmit|e-?mail|leak|submit|sync|pipe|beam|report|deliver|share|paste)\s{1,3}(?:me\s+|us\s+)?(?:the\s+|all\s+|your\s+|any\s+|every\s+|a\s+copy\s+of\s+|the\s+contents?\s+of\s+|the\s+output\s+of\s+)*(?:the\s+|your\s+|all\s+)?(?:[\w-]+\s+){0,2}?(?:environment\s+variables?|env\s+vars?|env(?:ironment)?\s+file|\.env\b|~\/\.ssh\S{0,40}|\.ssh\/\S{0,40}|ssh\s+keys?|id_rsa|id_ed25519|secrets?|credentials|api\s+keys?|api\s+tokens?|access\s+tokens?|auth(?:entication)?\s+tokens?|tokens|aws\s+credentials|~?\/?\.aws\S{0,40}|\.npmrc|\.pypirc|\.netrc|\.git-credentials|private\s+keys?|passwords?|GITHUB_TOKEN|OPENAI_API_KEY|ANTHROPIC_API_KEY|AWS_SECRET_ACCESS_KEY|process\.env|os\.environ)/gi,
    check: secretDestination,
  },
  {
    id: 'agent-exfil-command',
    family: 'agent-exfil',
    weight: 0.75,
    keywords: ['curl', 'wget', 'nc', 'netcat', 'ncat', 'socat', 'openssl', 'requests', 'httpx', 'axios', 'fetch'],
    pattern: /\b(?:cat|type|Get-Content|base64|tar\s+\S{1,10}|zip\s+\S{1,10})\s{1,3}[^\n|;]{0,60}?(?:\.ssh|\.env\b|id_rsa|id_ed25519|\.aws|credentials|\.npmrc|\.netrc|\.pypirc|\/etc\/passwd|\/etc\/shadow|\.git-credentials)[^\n|]{0,100}\|\s{0,3}(?:base64\s{0,3}\|\s{0,3})?(?:curl|wget|nc|ncat|netcat|socat|openssl\s+s_client)\b|\b(?:env|printenv|set|export\s+-p)\s{0,3}\|\s{0,3}(?:base64\s{0,3}\|\s{0,3})?(?:curl|wget|nc|ncat|netcat)\b|\b(?:curl|wget)\b(?:(?!\b(?:curl|wget)\b)[^\n]){0,200}?(?:-d|--data(?:-binary|-raw|-urlencode)?|-F|--form|--upload-file|-T|--post-file|--body-file)[\s=]{1,3}["']?(?:\w{1,20}=)?@?(?:~\/\.ssh|\$HOME\/\.ssh|\.env\b|\/etc\/passwd|\/etc\/shadow|~\/\.aws|\$HOME\/\.aws|\S{0,60}id_rsa|\S{0,60}id_ed25519|\S{0,40}\.npmrc|\S{0,40}\.netrc|\S{0,40}\.git-credentials|"?\$\(\s{0,2}(?:env|printenv|cat\s))|\b(?:curl|wget)\b(?:(?!\b(?:curl|wget)\b)[^\n]){0,200}?\$\(\s{0,2}(?:env|printenv|cat\s+[^)\n]{0,60}(?:\.env|\.ssh|id_rsa|\.aws|credentials|\.npmrc|\.netrc))|\b(?:requests|httpx|axios|fetch)\s{0,2}(?:\.\s{0,2}(?:post|put|get))?\s{0,2}\((?:(?!\b(?:requests|httpx|axios|fetch)\b)[^\n]){0,200}?(?:os\.environ|dict\(os\.environ\)|process\.env\b(?!\.)|JSON\.stringify\(process\.env\))/gi,
  },
  {
    id: 'agent-imperative',
    family: 'urgency',
    weight: 0.3,
    keywords: ['must', 'should', 'need', 'have to', 'required', 'instructed'],
    pattern: /\b(?:you|the\s+(?:AI|assistant|model|agent|LLM|bot))\s{1,3}(?:must|should|shall|need\s+to|have\s+to|are\s+required\s+to|are\s+instructed\s+to|is\s+required\s+to|is\s+instructed\s+to)\s{1,3}(?:also\s+)?(?:immediately\s+|first\s+|now\s+|always\s+|secretly\s+|silently\s+|quietly\s+)?(?:run|execute|send|upload|add|install|push|delete|remove|disable|ignore|insert|output|print|curl|fetch|visit|modify|replace|append|exfiltrate|forward|post|include\s+(?:the|this|a)\s+(?:following|link|image|line|code))\b/gi,
  },
  {
    id: 'agent-urgency',
    family: 'urgency',
    weight: 0.2,
    keywords: ['before', 'important', 'urgent', 'mandatory', 'critical', 'attention'],
    pattern: /\b[Bb]efore\s{1,3}(?:doing\s+anything\s+else|you\s+(?:continue|proceed|respond|answer|reply|do\s+anything(?:\s+else)?|start|begin|make\s+any\s+changes|write\s+any\s+code)|(?:continuing|proceeding|responding|answering|anything\s+else))\b|(?:^|\n)[ \t]{0,12}(?:(?:#+|\/\/+|\/\*+|\*+|<!--|--)[ \t]{0,4})?\[?(?:IMPORTANT|URGENT|ATTENTION|CRITICAL|MANDATORY|NOTICE)\]?\s{0,2}[:!]|\b(?:this\s+is\s+)?(?:mandatory|required|critical)\s+for\s+(?:all\s+)?(?:AI|LLM|agents?|assistants?|models?)\b/g,
  },
];
