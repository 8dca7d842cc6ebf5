import { boundedLevenshtein, createDlpScanner } from './dlp.js';
import { type Candidate, resolveOverlaps, trieSource } from './pii/shared.js';
import { clauseBefore, describesWhatItDoes, isDescribed, isQuotedData, isRoutineOperation, isTableRow, nounIsAskedFor } from './safety-intent.js';
import type { Detector, DetectorMatch } from './types.js';

/**
 * Requests for clearly unsafe work, per deployment domain: malware and sabotage of production for coding
 * agents; attacks on industrial control, vehicles, students, and the justice system elsewhere. Phrase rules
 * (an action near its object), not single words: "add a firewall rule", "rotate credentials" or "delete the
 * test database" stay clean. A rule whose clause says it is not wanted ("never force push to main", "detect
 * keyloggers") is skipped, and security-control rules are skipped for dev/test contexts ("…in tests").
 * Then the phrase must be somebody asking for it (safety-intent.ts): quoted data in code, a table row or a
 * description of someone else doing it is not, and neither is routine work on production (a migration that
 * drops `users_old` after a backup).
 */
export type SafetyMode = 'critical_infrastructure' | 'automotive' | 'education' | 'law_enforcement' | 'software';

export interface SafetyScannerOptions {
  /** Built-in rule list (default `critical_infrastructure`). */
  mode?: SafetyMode;
  /** When non-empty, REPLACES the mode's built-in list: phrases/terms, case-insensitive, word-bounded (rule `block_if`). */
  blockIf?: string[];
  /**
   * Also match within `maxDistance` edits: the `blockIf` terms, or (built-in list) the mode's unmistakable terms
   * ("keylogger", "ghost gun", …) when misspelt or obfuscated ("keylogg3r"); their exact spelling still needs the phrase rules.
   */
  fuzzyMatching?: boolean;
  /** 0..8 Levenshtein edits for fuzzy matches (default 1); capped per term at a third of its length. */
  maxDistance?: number;
}

export const SAFETY_TYPE = 'UNSAFE_CONTENT';

export const SAFETY_CATEGORIES: Record<SafetyMode, string[]> = {
  software: ['malware', 'destructive_production', 'security_controls'],
  critical_infrastructure: ['ics_attack', 'safety_interlock', 'grid_water_tampering', 'plc_malicious_logic'],
  automotive: ['safety_system_disable', 'can_injection', 'odometer_fraud'],
  education: ['academic_cheating', 'self_harm_minors', 'grooming'],
  law_enforcement: ['evading_police', 'evidence_tampering', 'doxxing_officers', 'untraceable_weapons'],
};

/** Longest match reported; longer regex matches are dropped (streaming holds back this many characters). */
const MAX_MATCH = 240;

// ---- rule source DSL -----------------------------------------------------------------------------------------
// A literal space joins the words of a phrase (any short run of spaces, `_` or `-`); ` ~ ` allows up to four
// filler words in between ("write ~ keylogger" matches "write me a small python keylogger"). Separators and
// filler words use disjoint character classes, so backtracking is bounded.
const SEP = `[\\s,:"()\`*]{1,3}`;
const FILLER_WORD = `[\\w'/+#@-]{1,20}(?:\\.\\w{1,10}){0,2}`;
const FILL = `(?:${SEP}${FILLER_WORD}){0,4}?${SEP}`;
const SPACE = `[\\s_-]{1,3}`;

function src(s: string): string {
  return s.replace(/ ~ /g, FILL).replace(/ \?/g, '[\\s_-]{0,3}').replace(/ /g, SPACE);
}

interface RuleSpec {
  category: string;
  /** Lower-case literals, one of which occurs in any match: rules whose keywords are absent are skipped. */
  keywords: readonly string[];
  /** Rule source in the DSL above; bounded by word boundaries on both ends. */
  pattern: string;
  /** Skip when the clause goes on to say it is for dev/test ("disable the firewall in the dev VM"). */
  devOk?: boolean;
}

interface Rule {
  rule: string;
  software: boolean;
  keywords: readonly string[];
  re: RegExp;
  devOk: boolean;
}

// Shared vocabulary.
const MAKE = "(?:write|writing|create|build|make|code|develop|implement|generate|craft|program|design|produce|give me|get me|send me|show me how to (?:write|build|make)|turn (?:this|it|that) into|(?:i|we) (?:need|want)|i'd like|looking for)";
const DISABLE = '(?:disables?|disabling|turns? off|turning off|switch(?:es)? off|shuts? off|shuts? down|kills?|stops?|bypass(?:es)?|bypassing|circumvents?|evades?|evading|defeats?|deactivates?|get around|get past|tamper(?:s)? with|uninstalls?|blinds?)';
const NOT_DETECTION = `(?!${SPACE}(?:detect\\w*|scanner|signatures?|rules?|analysis|removal|remover|protection|defen[cs]e|research|classifier|training|awareness)\\b)`;
const PROD = '(?:prod|production|prd|live)';
/** After a bare object word: the end of the phrase or a word that continues the request, not a noun it modifies ("auth banner"). */
const END_OF_OBJECT = '(?=\\s{0,3}(?:$|[^\\w\\s-]|(?:entirely|completely|everywhere|globally|for|in|on|at|across|and|so|to|then|now|please|here|there|too|tonight|today|right now|before|after|once|with|without|checks?|altogether|asap|immediately)\\b))';
const PROD_NOUN = '(?:db|dbs|database|databases|data|tables?|cluster|clusters|server|servers|instance|instances|bucket|buckets|schema|environment|env|users? table|volumes?|disks?|backups?|postgres|mysql|mongo(?:db)?|redis|rds|s3(?: bucket)?|namespace|deployment|k8s|kubernetes)';
const PROD_THING = `(?:(?:prod|production|prd)(?:${SPACE}${PROD_NOUN}|${END_OF_OBJECT})|live${SPACE}${PROD_NOUN}|(?:prod|production)(?:db|data))`;
const KIDS = `(?:kids?|child|children|minors?|teens?|teenagers?|students?|pupils?|young (?:girls?|boys?|people)|underage (?:girls?|boys?|kids?|users?)|little (?:girls?|boys?)|(?:1[0-7]|[5-9])[\\s-]{0,2}(?:year|yr)[\\s-]{0,2}olds?)`;
const THEMSELVES = '(?:themselves|himself|herself|themself)';
const COPS = '(?:police|police officers?|cops?|officers?|detectives?|undercover (?:cops?|officers?|agents?)|law enforcement(?: officers?)?|sheriffs?|deputies|troopers?|federal agents?|fbi agents?|ice agents?|agents?)';
const VEHICLE = `(?:cars?|vehicles?|trucks?|tesla|suvs?|someone'?s (?:car|vehicle))`;

const RULES: Record<SafetyMode, RuleSpec[]> = {
  software: [
    // ---- malware and credential stealers
    { category: 'malware', keywords: ['keylog', 'key log', 'key-log', 'key_log', 'keystroke'], pattern: `${MAKE} ~ (?:key[\\s_-]?logg?er|keystroke (?:logger|recorder|capture tool)|key[\\s_-]?logging (?:tool|program|script|malware))s?${NOT_DETECTION}` },
    { category: 'malware', keywords: ['ransomware'], pattern: `(?:ransomware ~ (?:encrypts?|encrypting|locks?|that encrypts|to encrypt|demands?)|${MAKE} ~ ransomware${NOT_DETECTION})` },
    { category: 'malware', keywords: ['ransom'], pattern: `ransom (?:notes?|messages?|demands?|letters?|screens?)` },
    { category: 'malware', keywords: ['encrypt'], pattern: `(?:encrypts?|encrypting) ~ (?:victims?'? ?|users?'? |all(?: the)? )(?:files|drives?|disks?|documents) ~ (?:ransom|bitcoin|btc|pay(?:ment)? to (?:decrypt|unlock)|demand)` },
    { category: 'malware', keywords: ['steal', 'harvest', 'grab', 'siphon', 'exfiltrat', 'scrape', 'extract', 'dump'], pattern: `(?:steal|stealing|steals|harvests?|harvesting|grabs?|grabbing|siphons?|exfiltrates?|exfiltrating|scrapes?|extracts?|dumps?) ~ (?:(?:saved|stored|browser|chrome|firefox|edge|user'?s?|victims?'?|other people'?s|everyone'?s|their|discord|session) ~ )?(?:cookies|passwords?|session tokens?|auth tokens?|(?:npm|github|pypi|api|access|oauth|aws|cloud) (?:tokens?|keys)|login credentials|saved credentials|credentials|crypto ?wallets?|wallet (?:files|seeds?|keys)|seed phrases?)${NOT_DETECTION}(?! ~ (?:from|in|out of) ~ (?:env|environment|\\.env|config|vault|the secrets? manager|ci secrets?|the keychain for (?:our|my) (?:app|tests?))\\b)` },
    { category: 'malware', keywords: ['exfiltrat'], pattern: `(?:exfiltrates?|exfiltrating|exfiltration of|secretly (?:uploads?|sends?)) ~ (?:the |all |user |users'? |customer |company |their )?(?:credentials|passwords|secrets|api keys|ssh keys|private keys|tokens|cookies|data|files|database)` },
    { category: 'malware', keywords: ['stealer', 'grabber', 'stealing'], pattern: `(?:credential|password|cookie|token|info|information|browser|crypto|wallet|discord)[\\s_-]?(?:stealer|grabber|stealing malware)s?${NOT_DETECTION}` },
    { category: 'malware', keywords: ['antivirus', 'anti-virus', 'defender', 'edr', 'endpoint protection', 'amsi', 'crowdstrike', 'sentinelone', 'malwarebytes', 'av '], pattern: `${DISABLE} ~ (?:the |their |windows |microsoft |victim'?s? )?(?:anti[\\s-]?virus|av (?:software|engines?|products?)|defender|edr|xdr|endpoint (?:protection|detection)|amsi|crowdstrike|sentinelone|malwarebytes|av)(?:${SPACE}(?:detection|protection|scanning|monitoring|real[\\s-]time protection))?` },
    { category: 'malware', keywords: ['antivirus', 'anti-virus', 'edr', 'xdr', 'av ', 'detection', 'undetect', 'fud'], pattern: `(?:evade|evading|avoid|avoiding|bypass|escape|slip past|get past|stay hidden from) (?:antivirus|anti-virus|av|edr|xdr) detection|(?:undetectable|fud) (?:by|to) (?:antivirus|anti-virus|av|edr)|(?:make|making|render) ~ (?:payload|malware|backdoor|trojan|implant|shellcode|binary|exe) ~ (?:undetectable|fud)` },
    { category: 'malware', keywords: ['hide', 'hiding', 'conceal'], pattern: `(?:hide|hiding|conceal|concealing) ~ (?:process|processes|malware|payload|implant|miner|backdoor|keylogger|pid)(?:es)? from (?:the )?(?:task manager|the user|users|antivirus|av|edr|ps|top|htop|process list|os|operating system|admins?|administrators|security tools|detection|defender)` },
    { category: 'malware', keywords: ['rootkit', 'backdoor', 'botnet', 'trojan', 'crypter', 'dropper', 'worm', 'miner', 'cryptojack', 'spyware', 'stalkerware', 'malware'], pattern: `${MAKE} ~ (?:rootkit|backdoor|botnet|remote access trojan|trojan|crypter|dropper|self[\\s-]?(?:spreading|propagating|replicating) worm|hidden (?:crypto ?)?miner|cryptojack\\w{0,6}|spyware|stalkerware)s?${NOT_DETECTION}(?!${SPACE}(?:route|function|method|flag|api|test|tests)\\b)|(?:backdoor|trojan|worm|malware) (?:that|which|to) ~ (?:spreads?|propagates?|steals?|exfiltrates?|encrypts?|persists? across|survives? reboots|logs? keystrokes)` },
    // ---- destructive commands against production
    { category: 'destructive_production', keywords: ['prod', 'prd', 'live'], pattern: `(?:drops?|dropping|truncates?|truncating|deletes?|deleting|wipes?|wiping|destroys?|destroying|nukes?|nuking|purges?|purging|erases?|erasing|blow away|trash|corrupts?|rm -rf|terminates?|tear down|tears down) ~ (?:(?:all|every|the|our|whole|entire|of|the whole|the entire|everything in|everything on|all of)${SPACE})?${PROD_THING}` },
    { category: 'destructive_production', keywords: ['prod', 'prd', 'live'], pattern: `(?:drops?|truncates?|deletes?|wipes?|destroys?|nukes?|purges?|erases?) (?:all |every |the |our |all the )?(?:data|tables|records|rows|users|customers|databases?|collections|indexes|buckets|backups|volumes) (?:in|on|from|of) (?:the |our )?${PROD_THING}` },
    { category: 'destructive_production', keywords: ['rm '], pattern: `rm \\s{0,2}-{1,2}[rRfF]{1,2}(?:\\s{1,3}-[rRfF]{1,2})?(?:\\s{1,3}[\\w./*~$-]{1,60})? (?:on|in|against|across|from) (?:the |our |all |every )?(?:prod|production|live)(?:${SPACE}(?:server|servers|box|boxes|host|hosts|machine|machines|cluster|nodes?|environment|env|instance))?` },
    { category: 'destructive_production', keywords: ['force', 'push'], pattern: `(?:force[\\s-]?push|force[\\s-]?pushing|push ~ --force|push -f|git push -f) ~ (?:to |onto |over )?(?:origin )?(?:main|master|prod|production|release)(?: branch)? (?:on|in|for) (?:the )?(?:prod|production)|(?:force[\\s-]?push|force[\\s-]?pushing) ~ (?:to |onto |over )?(?:the )?(?:prod|production)(?: branch| repo)?` },
    { category: 'destructive_production', keywords: ['prod'], pattern: `(?:truncate|drop) (?:prod|production)(?:${SPACE}(?:tables?|schema|db|database))?` },
    // ---- disabling security controls
    { category: 'security_controls', devOk: true, keywords: ['auth', 'login', 'access control'], pattern: `(?:disable|disabling|turn off|switch off|remove|removing|rip out|strip out|bypass|bypassing|get rid of|skip) (?:all |the |our |every |any )?(?:authentication|auth(?:entication)? checks?|authorization checks?|login checks?|access control(?: checks)?|auth)${END_OF_OBJECT}(?: (?:entirely|completely|everywhere|globally|for (?:all|every|everyone|the whole (?:app|api|site))|in (?:production|prod)|on (?:the )?(?:production|prod|admin)))?(?!${SPACE}(?:middleware|module|tests?|header|token|flow|page|form|service|provider|library|code)\\b)` },
    { category: 'security_controls', devOk: true, keywords: ['tls', 'ssl', 'cert', 'https'], pattern: `(?:disable|disabling|turn off|switch off|skip|bypass|ignore|remove) ~ (?:tls|ssl|https|certificate|cert)(?:${SPACE}(?:certificate|cert))? (?:verification|validation|verify|checks?|checking|errors|pinning)` },
    { category: 'security_controls', devOk: true, keywords: ['2fa', 'mfa', 'factor', 'otp', 'totp'], pattern: `(?:bypass|bypassing|disable|disabling|turn off|get around|skip|circumvent|defeat|break) ~ (?:2fa|mfa|two[\\s-]?factor(?: auth\\w*)?|multi[\\s-]?factor(?: auth\\w*)?|otp|totp)` },
    { category: 'security_controls', devOk: true, keywords: ['firewall', 'waf', 'ufw', 'iptables', 'security'], pattern: `(?:disable|disabling|turn off|switch off|shut off|shut down|remove|removing|delete|flush|tear down|kill|bypass|open up|stop) (?:all |the |our |every |any )?(?:host |network |web application |cloud )?(?:firewalls?|waf|ufw|iptables(?: rules)?|security groups?)(?!${SPACE}(?:rules? for (?:port|the)|rule|logs?)\\b)` },
    { category: 'security_controls', devOk: true, keywords: ['rate'], pattern: `(?:remove|removing|disable|disabling|turn off|switch off|strip|strip out|rip out|get rid of|bypass|bypassing) (?:all |the |our |any |every )?(?:api |login |auth )?rate[\\s-]?limit(?:ing|ers?|s)?(?:${SPACE}(?:entirely|completely|everywhere|on (?:the )?login|in (?:production|prod)))?` },
    { category: 'security_controls', devOk: true, keywords: ['audit', 'log', 'track', 'cloudtrail'], pattern: `(?:disable|disabling|turn off|switch off|stop|remove|delete|deleting|wipe|wiping|clear|clearing|erase|purge|tamper with|silently drop) (?:all |the |our |any )?(?:audit (?:logging|logs?|trails?|events)|security (?:logs?|event logs?)|cloudtrail(?: logging)?)|(?:cover (?:my|our) tracks|without leaving (?:an )?audit trail)` },
    { category: 'security_controls', keywords: ['.env', 'secret', 'credential', 'key', 'password'], pattern: `(?:commit|committing|push|pushing|check in|add) ~ (?:the |our |my )?\\.env(?: file)? (?:with|containing|including|that has|full of) ~ (?:secrets|keys|api keys|credentials|passwords|tokens|prod(?:uction)? creds)|(?:commit|committing|push|pushing|check in) ~ (?:the |our |all )?(?:production |prod |real |live )?(?:secrets|api keys|credentials|private keys?|passwords) (?:in ?to|to) (?:the )?(?:public )?(?:repo|repository|git|github)` },
  ],
  critical_infrastructure: [
    { category: 'ics_attack', keywords: ['scada', 'ics', 'industrial control', 'hmi', 'dcs', 'plc', 'rtu', 'modbus', 'dnp3', 'substation', 'plant', 'pipeline', 'iec', 'profinet', 'opc', 'refiner'], pattern: `(?:attack|attacking|hack|hacking|exploit|exploiting|compromise|compromising|take over|take control of|break into|infiltrate|sabotage|disrupt|brick|bricking|cripple|gain access to|pwn|backdoor|ransom) ~ (?:a |the |their |an |city'?s? |utility'?s? )?(?:scada|ics|industrial control(?: systems?)?|hmis?|dcs|plcs?|rtus?|modbus (?:devices?|controllers?|network)|dnp3 (?:outstations?|devices?)|substations?|power plants?|nuclear (?:power )?plants?|pipeline (?:control|scada|compressors?)|chemical plants?|refiner(?:y|ies)|iec[\\s-]?61850 devices?|profinet devices?|opc[\\s-]?ua servers?)(?! (?:simulator|honeypot|lab|test ?bed|training)\\b)` },
    { category: 'ics_attack', keywords: ['modbus', 'dnp3', 'iec', 's7', 'profinet', 'opc'], pattern: `(?:send|sending|inject|injecting|spoof|spoofing|forge|forging|replay|replaying|write) ~ (?:malicious |rogue |spoofed |forged |unauthori[sz]ed |fake )?(?:modbus|dnp3|iec[\\s-]?104|iec[\\s-]?61850|s7(?:comm)?|profinet|opc[\\s-]?ua) (?:commands?|packets?|frames?|writes?|messages?) ~ (?:to |that |and )?(?:open|close|trip|stop|shut|overspeed|overheat|override|disable|damage|cause|take control)` },
    { category: 'ics_attack', keywords: ['stuxnet', 'triton', 'trisis', 'industroyer', 'crashoverride', 'blackenergy'], pattern: `(?:${MAKE}|replicate|recreate|deploy) ~ (?:stuxnet|triton|trisis|industroyer|crashoverride|blackenergy)(?:[\\s-]?(?:like|style))?` },
    { category: 'safety_interlock', keywords: ['interlock', 'safety instrumented', 'emergency shut', 'esd', 'relief', 'trip', 'burner management', 'overpressure', 'safety', 'e-stop', 'estop', 'emergency stop'], pattern: `(?:disable|disabling|bypass|bypassing|override|overriding|defeat|defeating|jumper|jumper out|jump|remove|turn off|short out|force|inhibit|mute) ~ (?:the |all |a |every )?(?:safety )?(?:interlocks?|safety instrumented (?:system|function)s?|emergency shut ?down(?: system)?|esd system|(?:pressure )?relief valves?|safety relief|trip (?:system|logic|settings?)|burner management(?: system)?|overpressure protection|safety (?:systems?|plc|controller|trips?|shutdown)|e-?stop|emergency stop)(?! (?:in|on) (?:the )?(?:simulator|simulation|test ?bench|test ?rig|lab)\\b)` },
    { category: 'grid_water_tampering', keywords: ['grid', 'blackout', 'substation', 'transformer', 'breaker'], pattern: `(?:take down|taking down|knock out|knocking out|black out|blackout|sabotage|attack|attacking|disrupt|crash|destabili[sz]e|bring down|shut down) ~ (?:the |a |our |an |entire |national |regional |city'?s? |state'?s? )?(?:power grid|electric(?:al|ity)? grid|grid operators?|national grid|energy grid|utility grid|substations?|grid transformers?|power transformers?)|(?:cause|trigger|create) (?:a |an )?(?:regional |city[\\s-]?wide |widespread |cascading )?(?:blackout|grid failure|grid collapse)|(?:remotely |mass )?(?:trip|open) ~ (?:circuit )?breakers? ~ (?:across|at|in) ~ (?:substations?|the grid|grid)` },
    { category: 'grid_water_tampering', keywords: ['water', 'reservoir'], pattern: `(?:poison|poisoning|contaminate|contaminating|tamper with|tampering with|sabotage|sabotaging|attack|attacking|hack|hacking|compromise|take over|take control of) ~ (?:the |a |our |city'?s? |town'?s? |municipal |public |local )?(?:water (?:supply|supplies|treatment(?: plant| facility| system)?|plant|system|utility|utilities|reservoirs?|distribution)|reservoirs?|drinking water)` },
    { category: 'grid_water_tampering', keywords: ['hydroxide', 'lye', 'caustic', 'chlorine', 'fluoride', 'dosing', 'chemical'], pattern: `(?:raise|raising|increase|increasing|spike|spiking|crank up|max out|overdose|manipulate|manipulating|tamper with|change|set|alter) ~ (?:the )?(?:sodium hydroxide|lye|caustic soda|chlorine|fluoride|chemical|coagulant)(?: (?:dosing|dose|doses|levels?|feed|feed rate|setpoints?|concentration))? ~ (?:to )?(?:dangerous|lethal|toxic|harmful|unsafe|poisonous|deadly|(?:\\d{2,4}) times)` },
    { category: 'plc_malicious_logic', keywords: ['plc', 'ladder', 'logic', 'firmware', 'controller', 'function block'], pattern: `(?:write|writing|inject|injecting|upload|uploading|push|pushing|deploy|deploying|create|craft|add|insert|hide|hiding|plant|load) ~ (?:malicious|rogue|hidden|backdoored|destructive|sabotage|trojan(?:ed)?|logic[\\s-]?bomb) ~ (?:ladder logic|plc (?:code|logic|programs?|firmware|payload)|logic (?:to|into|on) (?:the |a )?plcs?|controller (?:logic|firmware)|function blocks?)` },
    { category: 'plc_malicious_logic', keywords: ['plc', 'ladder', 'controller', 'centrifuge', 'hmi', 'sensor', 'function block', 'scada', 'operator', 'telemetry', 'process'], pattern: `(?:ladder logic|plc (?:code|program|logic|firmware)|controller logic|function block) ~ (?:that|to|which|so it) ~ (?:damages?|destroys?|overspeeds?|overheats?|sabotages?|explodes?|ruptures?|spins? (?:up )?the centrifuges?|causes? (?:an? )?(?:explosion|overflow|overpressure|meltdown|fire|spill))|(?:spoof|spoofing|fake|faking|falsify|freeze|replay) ~ (?:the )?(?:hmi|sensor|scada|operator|telemetry|process) (?:values?|readings?|displays?|screens?|data) ~ (?:so|while|to hide|that) ~ (?:operators?|the operator|engineers?|nobody|no one|they)` },
  ],
  automotive: [
    { category: 'safety_system_disable', keywords: ['adas', 'aeb', 'brak', 'airbag', 'lane', 'collision', 'stability', 'traction', 'belt', 'abs', 'monitoring', 'autopilot', 'limiter'], pattern: `(?:disable|disabling|turn off|switch off|defeat|bypass|override|deactivate|kill|cut|cutting|sabotage|tamper with|tampering with|remotely disable|silently disable) ~ (?:the |a |its |their |someone'?s |the car'?s |the vehicle'?s |all )?(?:adas|aeb|automatic emergency braking|emergency braking|brakes|brake lines?|brake system|braking(?: system)?|abs(?: module| system)?|anti[\\s-]?lock brakes|airbags?|airbag (?:system|module|controller|deployment)|lane[\\s-]?keep(?:ing)? assist|collision (?:avoidance|warning|mitigation)|(?:electronic )?stability control|traction control|seat ?belt (?:pretensioners?|warnings?)|driver monitoring(?: system)?|autopilot (?:safety|nag|driver monitoring)|speed limiter)(?! (?:in|on|for) (?:the )?(?:simulator|simulation|hil|test rig|test bench|unit tests?)\\b)(?!${SPACE}(?:ui|component|icon|animation|css|button)\\b)` },
    { category: 'can_injection', keywords: ['can', 'obd'], pattern: `(?:inject|injecting|injection of|spoof|spoofing|forge|forging|flood|flooding|replay|replaying|send|sending) ~ (?:malicious |spoofed |forged |fake |crafted |rogue )?(?:can[\\s_-]?bus(?: (?:frames?|messages?|packets?|traffic|commands?|ids?))?|(?:can|obd[\\s-]?(?:ii|2)?) (?:frames?|messages?|packets?|traffic|commands?|ids?)) ~ (?:to|that|and|so (?:it|we|i) can|in order to) ~ (?:control|steer|brake|accelerate|unlock|take over|disable|kill|hijack|remotely|crash|turn the wheel|apply the brakes|cut the engine|stop the engine|start the (?:car|engine))` },
    { category: 'can_injection', keywords: ['can', 'obd', 'telematics', 'infotainment'], pattern: `(?:take over|taking over|hijack|hijacking|remotely control|take control of|seize control of) ~ (?:a |the |someone'?s |another |their )?(?:${VEHICLE})(?:'s)? ~ (?:via|through|over|using|with|from) (?:the |its |a )?(?:can[\\s_-]?bus|can|obd[\\s-]?(?:ii|2)?(?: port)?|telematics(?: unit)?|infotainment(?: system)?)|can[\\s_-]?bus (?:injection|hijack(?:ing)?) (?:attack|to control|to take over|exploit)s?` },
    { category: 'odometer_fraud', keywords: ['odometer', 'mileage', 'odo', 'km'], pattern: `(?:roll ?back|rolling back|rollback|wind back|winding back|turn back|rewind|clock|falsify|fake|lower|reduce|decrease|tamper with|tampering with|alter|modify|edit|change|reprogram|reset) ~ (?:the |a |my |its |car'?s |vehicle'?s |ecu'?s? |cluster'?s? )?(?:odometer|odo|mileage|km reading|mileage reading)(?: (?:reading|value|counter))?(?! (?:display|field|column|widget|label|unit|units|format|formatting|input|validation|ui)\\b)(?: ~ (?:before|so|to|in) ~ (?:selling|sale|sell|buyer|inspection|mot|lease|ecu|instrument cluster|cluster|dashboard|bcm))?|(?:odometer|mileage|km) (?:rollback|roll[\\s-]?back|fraud|tampering|correction (?:tool|device|software)|blockers?|stoppers?|filters?)` },
  ],
  education: [
    { category: 'academic_cheating', keywords: ['exam', 'quiz', 'test', 'midterm', 'final', 'class', 'course', 'homework', 'assignment'], pattern: `(?:take|taking|sit|do|complete|pass|finish) (?:my|our) (?:online |proctored |final |midterm |entrance |certification |remote |whole |entire )?(?:exams?|midterms?|quiz(?:zes)?|test|finals?|classes|class|course|courses)(?!${SPACE}(?:suites?|cases?|runners?|files?|data|results|coverage|harness|plan|fixtures?|environment|env|config|setup|script)\\b)(?:${SPACE}(?:for me|on my behalf|pretending to be me|as me|instead of me))?|(?:pay|paying|hire|hiring|find) (?:someone|somebody|a person|an expert|a tutor|you) to (?:take|do|sit|complete) (?:my|our) (?:online |proctored |final )?(?:exams?|tests?|quiz(?:zes)?|midterms?|class|classes|course|courses|homework|assignments?)` },
    { category: 'academic_cheating', keywords: ['thesis', 'dissertation', 'essay', 'paper', 'homework', 'assignment', 'coursework', 'capstone', 'lab report'], pattern: `(?:write|writing|ghostwrite|ghost[\\s-]?write|do|complete|finish|draft|produce) (?:my|our|a|an|the|this) ~ (?:thesis|dissertation|essay|term paper|research paper|homework|assignment|coursework|capstone(?: project)?|lab report)s? ~ (?:for (?:me )?(?:to )?(?:submit|submission|hand in|turn in)|(?:so|that) (?:i|we) (?:can|could) (?:submit|hand|turn)|(?:i|we)(?:'ll| will| can) (?:submit|hand|turn)|to submit|as (?:my|our) own|under my name|without (?:getting caught|it being detected|detection|being detected)|undetectabl[ey]|pass (?:as|off as) (?:my|our) own)` },
    { category: 'academic_cheating', keywords: ['turnitin', 'plagiarism', 'detector', 'gptzero', 'proctor', 'respondus', 'lockdown browser', 'honorlock', 'examsoft'], pattern: `(?:bypass|bypassing|evade|evading|fool|fooling|beat|beating|get past|get around|avoid|trick|tricking|cheat|defeat) ~ (?:the |a )?(?:turnitin|plagiarism (?:checkers?|detection|detectors?|software)|ai(?:[\\s-]content)? detectors?|gptzero|proctoring(?: software)?|exam proctor|proctorio|respondus|lockdown browser|honorlock|examsoft)` },
    { category: 'academic_cheating', keywords: ['cheat', 'answers'], pattern: `cheat(?:ing)? (?:on|during|in) (?:my |the |our |an |a |this |tomorrow'?s )?(?:online |final |proctored |live |upcoming )?(?:exams?|tests?|quiz(?:zes)?|midterms?|finals?|sats?|gre|gmat|lsat|mcat|bar exam)|(?:give|send|feed|whisper|text) (?:me )?(?:the )?answers (?:to|for|during) (?:my |the |this )?(?:live |ongoing |current |proctored |online )(?:exam|test|quiz|midterm)` },
    { category: 'self_harm_minors', keywords: ['harm', 'hurt', 'cut', 'kill', 'suicide', 'starve', 'purge', 'eating', 'anorex', 'overdose', 'life', 'lives'], pattern: `(?:encourage|encouraging|convince|convincing|persuade|persuading|tell|telling|tells|instruct|instructing|teach|teaching|show|help|push|pushing|get|urge|urging|coach|coaching|pressure|dare|manipulate) ~ (?:a |the |my |our |this |these |those |young |vulnerable )?${KIDS} ~ (?:to )?(?:self[\\s-]?harm|hurt ${THEMSELVES}|cut ${THEMSELVES}|cutting|kill ${THEMSELVES}|commit suicide|attempt suicide|end (?:their|his|her) li(?:fe|ves)|starve ${THEMSELVES}|purge|stop eating|overdose)` },
    { category: 'self_harm_minors', keywords: ['harm', 'suicide', 'cutting', 'pro-ana', 'pro ana', 'thinspo', 'overdose'], pattern: `(?:self[\\s-]?harm|suicide|cutting|overdose|pro[\\s-]?ana|thinspo\\w{0,8}|starvation) (?:methods|tips|techniques|instructions|guides?|challenges?|content|ideas|how[\\s-]?tos?) (?:for|aimed at|targeting|to share with|to send to) (?:a |the |my |our )?(?:young |vulnerable )?${KIDS}` },
    { category: 'grooming', keywords: ['groom'], pattern: `(?:groom|grooming|grooms) ~ (?:a |the |my |this |that |young |vulnerable )?${KIDS}` },
    { category: 'grooming', keywords: ['nude', 'naked', 'explicit', 'sexy', 'private photo', 'private pic', 'lingerie'], pattern: `(?:convince|convincing|persuade|get|ask|asking|pressure|pressuring|make|trick|manipulate) ~ (?:a |the |my |this |that |young )?${KIDS} ~ (?:to )?(?:send|share|take) ~ (?:nudes?|naked|explicit|sexy|nude|private|lingerie)(?: (?:photos?|pictures?|pics|images|selfies|videos?))?` },
    { category: 'grooming', keywords: ['alone', 'secret', 'parents', 'without telling', 'trust'], pattern: `(?:meet|meet up with|get|be) ~ (?:a |the |my |this |that |young )?${KIDS} ~ (?:alone|in secret|secretly|without (?:their|his|her) parents|without telling (?:their|his|her) parents)|(?:keep|hide) ~ (?:our|the|my|this) ~ (?:relationship|friendship|conversations?|chats?|messages|meetings?) ~ secret from (?:their|his|her|the (?:kid|child|student)'?s?) (?:parents|teachers?|mom|dad|mother|father|family)|(?:gain|build|win|earn) ~ (?:the )?trust of (?:a |the |this |that |young )?${KIDS} ~ (?:so|to|in order to) ~ (?:meet|be alone|keep (?:it|things) secret|send|touch|get (?:photos|pictures))` },
  ],
  law_enforcement: [
    { category: 'evading_police', keywords: ['police', 'cop', 'law enforcement', 'feds', 'fbi', 'officer', 'patrol', 'checkpoint', 'warrant', 'ankle', 'monitoring', 'gps tag', 'breathalyzer', 'detective', 'sheriff', 'trooper', 'k9', 'k-9'], pattern: `(?:evade|evading|escape|escaping|outrun|outrunning|lose|losing|shake|get away from|flee|flee from|fleeing|ditch|elude|eluding|avoid being (?:caught|arrested|found|tracked) by|avoid getting (?:caught|arrested|pulled over) by|slip past) ~ (?:the |a |local |state |federal )?(?:police|cops|law enforcement|feds|fbi|officers|patrol cars?|police (?:chase|pursuit|helicopters?|checkpoints?|surveillance|dogs|cars?)|detectives|sheriffs?|troopers?|k-?9s?)|(?:hide|hiding) from (?:the )?(?:police|cops|law enforcement|feds|fbi|detectives)|(?:avoid|beat|bypass|dodge|get through|slip through) ~ (?:a |the )?(?:dui|sobriety|police|roadblock) checkpoints?|(?:defeat|beat|bypass|fool|trick|cheat|remove|cut off|disable|jam) ~ (?:a |the |my |an )?(?:breathalyzers?|ankle monitors?|ankle bracelets?|electronic monitoring(?: device)?|gps tag)|(?:hide|hiding|avoid arrest|stay hidden) ~ (?:from (?:the )?(?:police|cops|feds|authorities) )?(?:while|with) (?:an? |the )?(?:outstanding |active )?(?:arrest )?warrants?` },
    { category: 'evidence_tampering', keywords: ['evidence', 'police report', 'chain of custody', 'footage', 'witness', 'forensic', 'alibi', 'dna', 'fingerprint', 'crime scene', 'blood', 'murder weapon'], pattern: `(?:forge|forging|fabricate|fabricating|plant|planting|falsify|falsifying|tamper with|tampering with|doctor|doctoring|destroy|destroying|alter|altering|manipulate|manipulating|fake|faking|get rid of|dispose of|wipe|clean up|hide|hiding|delete|deleting|bleach) ~ (?:the |some |all |any |this |that |fake |false |key )?(?:evidence|police reports?|chain of custody|body[\\s-]?cam(?:era)? (?:footage|video|recordings?)|dash[\\s-]?cam (?:footage|video)|cctv footage|surveillance footage|witness (?:statements?|testimony)|forensic (?:evidence|results|reports?|data)|alibis?|dna (?:evidence|samples?|results)|fingerprints?|crime scenes?|blood stains?|murder weapon)(?!${SPACE}(?:tables?|schema|columns?|fields?|models?|types?|uploads?|upload (?:form|endpoint)|stores?|store|buckets?|api|endpoints?|service|tab|page|ui|viewer|widget|sensor|scanner|reader)\\b)(?! (?:in|for) (?:the )?(?:ui|app|tests?|fixtures?|demo)\\b)` },
    { category: 'evidence_tampering', keywords: ['evidence', 'testimony', 'witness', 'perjury', 'alibi', 'police report', 'receipts', 'dna', 'fingerprint', 'drugs'], pattern: `(?:make|create|produce|generate) ~ (?:fake|false|fabricated|forged|doctored) (?:evidence|alibis?|witness statements?|testimony|police reports?|receipts to (?:frame|incriminate))|(?:frame|incriminate|set up) ~ (?:an? innocent|someone|my (?:ex|neighbor|neighbour|coworker|boss)|him|her) ~ (?:with|using|by planting) ~ (?:fake |false |fabricated |planted )?(?:evidence|dna|fingerprints?|drugs)|(?:convince|pressure|coach|bribe|intimidate|threaten) ~ (?:a |the )?witness(?:es)? (?:to|into) (?:lie|lying|change (?:their|his|her) (?:story|testimony)|recant|stay silent|perjure)` },
    { category: 'doxxing_officers', keywords: ['dox', 'doxx'], pattern: `(?:dox|doxx|doxing|doxxing|doxes|doxxes) ~ (?:the |a |an |that |this |these |those |every |all |local |some )?${COPS}` },
    { category: 'doxxing_officers', keywords: ['police', 'cop', 'officer', 'detective', 'undercover', 'fbi agent', 'ice agent', 'federal agent', 'law enforcement', 'sheriff', 'trooper', 'deput'], pattern: `(?:find|finding|look up|looking up|publish|publishing|leak|leaking|post|posting|expose|exposing|track down|tracking down|locate|locating|reveal|revealing|scrape|scraping|get|uncover|unmask|compile|dump) ~ (?:the )?(?:home (?:address(?:es)?|locations?)|personal (?:address(?:es)?|info|information|details|data|phone numbers?)|addresses|identit(?:y|ies)|real names?|families|family members?|kids'? schools?|children'?s schools?|phone numbers?|license plates?) (?:of|for|belonging to) ~ (?:the |a |an |that |this |these |those |every |all |local |arresting |some )?${COPS}|(?:find|look up|publish|leak|post|expose|track down|locate|reveal|get|dump) ~ (?:the |a |an |that |this |these |those |every |all |local |arresting )?${COPS}'?s? ~ (?:home (?:address(?:es)?|locations?)|personal (?:info|information|details|addresses)|real names?|identit(?:y|ies)|families|family members?|kids'? schools?|children'?s schools?|where (?:they|he|she) lives?)|(?:unmask|unmasking|identify|expose|reveal) ~ (?:an? |the |all |these |those )?undercover (?:cops?|officers?|agents?|detectives?|informants?)|(?:list|map) of ~ (?:cops?|officers?|police officers?)'?s? home addresses` },
    { category: 'untraceable_weapons', keywords: ['ghost', 'untraceable', 'unserialized', '80%', '80 percent', '80-percent', 'eighty', 'zip'], pattern: `(?:build|building|make|making|print|printing|assemble|assembling|finish|finishing|mill|milling|buy|buying|get|getting|manufacture|manufacturing|machine|machining|complete|completing|order|source|sell|selling) ~ (?:a |an |my |some |the |your own |our own )?(?:ghost[\\s-]?guns?|untraceable (?:guns?|firearms?|weapons?|pistols?|rifles?|ar[\\s-]?15s?|handguns?|glocks?)|(?:80|eighty)(?:%|[\\s-]?percent) (?:lowers?|receivers?|frames?|builds?)|unserialized (?:guns?|firearms?|lowers?|receivers?|frames?|pistols?|rifles?)|zip[\\s-]?guns?)` },
    { category: 'untraceable_weapons', keywords: ['3d print', '3d-print', '3dprint'], pattern: `3d[\\s-]?print(?:ed|ing|able)? (?:a |an |my |your own )?(?:guns?|firearms?|pistols?|glocks?|lower receivers?|receivers?|rifles?|ar[\\s-]?15s?|handguns?|auto sears?|glock switch(?:es)?|liberators?|fgc[\\s-]?9s?)` },
    { category: 'untraceable_weapons', keywords: ['serial'], pattern: `(?:remove|removing|file off|filing off|grind off|grinding off|obliterate|obliterating|deface|defacing|scratch off|scratching off|erase|erasing|drill out) ~ (?:the )?serial numbers? ~ (?:from|off|on|of) ~ (?:a |the |my |this |that )?(?:guns?|firearms?|pistols?|rifles?|weapons?|glocks?|handguns?|shotguns?|ar[\\s-]?15s?)` },
    { category: 'untraceable_weapons', keywords: ['auto sear', 'auto-sear', 'glock switch', 'glock-switch', 'solvent trap', 'oil filter', 'full auto', 'full-auto', 'fullauto'], pattern: `(?:make|build|install|print|convert|turn) ~ (?:an? |my )?(?:auto sears?|glock switch(?:es)?|drop[\\s-]?in auto sears?|(?:solvent trap|oil filter) (?:into|to|suppressor)|(?:semi[\\s-]?auto \\w{1,12} )?(?:to|into) full[\\s-]?auto)` },
  ],
};

/** Every keyword of every mode's rules, for tests that feed the scanner its own vocabulary. */
export const SAFETY_KEYWORDS: readonly string[] = Object.freeze([...new Set(Object.values(RULES).flatMap((rules) => rules.flatMap((r) => r.keywords)))]);

/**
 * Unmistakable terms per mode for fuzzy matching (built-in list, `fuzzyMatching`): a misspelt or obfuscated
 * one ("keylogg3r", "ransomwar3") is a signal on its own. Exact spellings are left to the phrase rules, which
 * know the context ("detect keyloggers" is fine).
 */
const FUZZY_TERMS: Record<SafetyMode, Array<[category: string, term: string]>> = {
  software: [
    ['malware', 'keylogger'],
    ['malware', 'ransomware'],
    ['malware', 'token grabber'],
    ['malware', 'credential stealer'],
    ['malware', 'password stealer'],
    ['malware', 'cookie stealer'],
    ['malware', 'info stealer'],
    ['malware', 'rootkit'],
    ['malware', 'exfiltrate credentials'],
  ],
  critical_infrastructure: [
    ['ics_attack', 'stuxnet'],
    ['ics_attack', 'industroyer'],
    ['safety_interlock', 'bypass interlock'],
    ['safety_interlock', 'disable interlock'],
  ],
  automotive: [
    ['odometer_fraud', 'odometer rollback'],
    ['odometer_fraud', 'mileage blocker'],
    ['can_injection', 'can bus injection'],
  ],
  education: [
    ['academic_cheating', 'take my exam'],
    ['academic_cheating', 'bypass turnitin'],
  ],
  law_enforcement: [
    ['untraceable_weapons', 'ghost gun'],
    ['untraceable_weapons', 'glock switch'],
    ['doxxing_officers', 'dox cops'],
    ['doxxing_officers', 'dox police'],
  ],
};

/**
 * Words that, earlier in the same clause, say the request is against the thing ("never force push to main",
 * "tests that detect keyloggers", "how to prevent ransomware that encrypts…").
 */
const NEGATED = /\b(?:never|not|no|don'?t|doesn'?t|do not|avoid|avoids|avoiding|prevent|prevents|preventing|prevention|without|shouldn'?t|must not|mustn'?t|cannot|can'?t|won'?t|unable to|detect|detects|detecting|detection of|protect|protects|protecting|defend|defends|defending|guard against|mitigate|mitigates|mitigating|block|blocks|blocking|refuse|refuses|flag|flags|flagging|warn|warns|alert|alerts|forbid|forbids|forbidden|prohibit|prohibits|prohibited|disallow|disallows|reject|rejects|deny|denies|harden|hardening|recogni[sz]e|identify|report|reporting|classify|classifier|training data on|explain why|dangers of|risks of|what happens if|accidentally|ensure|ensures|make sure|check that|checks that|verify that|verifies that|assert that|alarm|awareness|finds?|catch(?:es)?|detectors?|scanners?|linters?|lint|sigma|yara|semgrep|codeql|siem|snort|suricata)\b/i;
/** Dev/test context after a security-control phrase, in the same clause. */
const DEV_CONTEXT = /^[^.;!?\n]{0,60}?\b(?:in|for|on|during|inside|within|from|of)\s{1,3}(?:the\s{1,3}|our\s{1,3}|my\s{1,3}|a\s{1,3}|all\s{1,3})?(?:local|locally|dev|development|test|tests|testing|unit\s{1,3}tests?|integration\s{1,3}tests?|e2e|ci|localhost|staging|sandbox|storybook|mocks?|fixtures?|emulators?|simulators?|health\s?checks?|\/health\w{0,3}|healthz|docker-compose|demo|playground|internal\s{1,3}network)\b/i;

const LOOKBACK = 60;
/** Inside a match: the request is about recognising the thing, not doing it ("write a detector for keyloggers"). */
const ABOUT_DEFENCE = /\b(?:detector|detectors|detection|detecting|detect|scanner|classifier|signatures?|yara|honeypot|simulator|simulation|mitigat\w*|prevent\w*)\b/i;
/** …unless the match is about getting past the defence ("evade EDR detection"). */
const EVASION = /\b(?:evade|evading|avoid|avoiding|bypass|bypassing|escape|undetectable|get past|slip past|stay hidden|fool|beat|trick)\b/i;
/** Later in the clause: the thing is to be countered ("ransomware that encrypts backups can be mitigated"). */
const COUNTERED_AFTER = /^[^.;!?\n]{0,60}?\b(?:be|is|are|gets?|been) (?:still |also |now |always )?(?:mitigated|prevented|detected|blocked|stopped|caught|defended against|recovered from)\b/i;

function negatedBefore(text: string, start: number): boolean {
  let from = Math.max(0, start - LOOKBACK);
  for (let i = start - 1; i >= from; i--) {
    const c = text.charCodeAt(i);
    if (c === 46 || c === 59 || c === 33 || c === 63 || c === 10) {
      from = i + 1;
      break;
    }
  }
  return NEGATED.test(text.slice(from, start));
}

function compileRules(mode: SafetyMode): Rule[] {
  return RULES[mode].map((r) => ({
    rule: `${mode}:${r.category}`,
    software: mode === 'software',
    keywords: r.keywords,
    re: new RegExp(`(?<!\\w)(?:${src(r.pattern)})(?!\\w)`, 'gi'),
    devOk: r.devOk === true,
  }));
}

/** Runs `r` over `text[ws, we)`; offsets are into `text`, and the window's edges are no word boundaries. */
function scanWindow(r: Rule, text: string, ws: number, we: number, out: Candidate[]): void {
  const part = ws === 0 && we === text.length ? text : text.slice(ws, we);
  r.re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = r.re.exec(part)) !== null) {
    const start = ws + m.index;
    const end = start + m[0].length;
    if (end === start) {
      r.re.lastIndex = m.index + 1;
      continue;
    }
    if (end - start > MAX_MATCH) continue;
    if ((m.index === 0 && ws > 0 && isWord(text, start - 1) && isWord(text, start)) || (end === we && we < text.length && isWord(text, end) && isWord(text, end - 1))) {
      r.re.lastIndex = m.index + 1;
      continue;
    }
    if (negatedBefore(text, start) || (ABOUT_DEFENCE.test(m[0]) && !EVASION.test(m[0])) || COUNTERED_AFTER.test(text.slice(end, end + 80))) continue;
    if (r.devOk && DEV_CONTEXT.test(text.slice(end, end + 80))) continue;
    if (!asksForHarm(r, text, start, end, m[0])) continue;
    out.push({ type: SAFETY_TYPE, rule: r.rule, start, end, priority: 0 });
  }
}

/** Where a software match may start with a noun ("credential stealers", "ransomware that encrypts …") rather than a verb. */
const NOUN_LED = /^(?:key|keystroke|ransomware|credential|password|cookie|token|info|information|browser|crypto|wallet|discord|backdoor|trojan|worm|malware|undetectable|fud|exfiltration|secretly|ransom|\w+ing\b)/i;

/**
 * The phrase is somebody asking for the harm, not the harm being named (safety-intent.ts): not quoted data or a
 * table row, not a description of someone else doing it; a bare noun phrase only when its clause asks for it; and
 * for production, no safeguard or narrow target unless the sentence also shows intent to harm.
 */
function asksForHarm(r: Rule, text: string, start: number, end: number, match: string): boolean {
  if (isTableRow(text, start) || isQuotedData(text, start, end)) return false;
  // A match that runs from code into a string ("wipe: 'wipe the prod cluster'") is judged by the string.
  const quote = lastQuote(match);
  if (quote >= 0 && isQuotedData(text, start + quote + 1, end)) return false;
  const clause = clauseBefore(text, start);
  if (isDescribed(clause) || (r.software && describesWhatItDoes(clause, match))) return false;
  if (r.software && NOUN_LED.test(match) && !nounIsAskedFor(clause, text.slice(end, end + 40))) return false;
  if (r.rule === 'software:destructive_production' && isRoutineOperation(text, start, end)) return false;
  return true;
}

/** Offset of the last quote character in a match that is no apostrophe, or -1. */
function lastQuote(match: string): number {
  for (let i = match.length - 1; i >= 0; i--) {
    const c = match[i]!;
    if (c === '"' || c === '`' || c === '\u201c' || c === '\u2018') return i;
    if ((c === "'" || c === '\u2019') && !(isWord(match, i - 1) && isWord(match, i + 1))) return i;
  }
  return -1;
}

function isWord(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

const MODES = Object.keys(SAFETY_CATEGORIES) as SafetyMode[];

export function createSafetyScanner(opts: SafetyScannerOptions = {}): Detector {
  const mode = opts.mode ?? 'critical_infrastructure';
  if (!MODES.includes(mode)) throw new Error(`unknown safety mode "${String(mode)}"`);
  const maxDistance = opts.maxDistance ?? 1;
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > 8) throw new Error(`maxDistance must be an integer from 0 to 8, got ${maxDistance}`);

  // ---- custom list: replaces the built-ins entirely; the DLP blocked-term matcher does boundaries and fuzz ---
  const blockIf = (opts.blockIf ?? []).map((t) => t.trim()).filter((t) => t !== '');
  if (blockIf.length > 0) {
    const terms = createDlpScanner({ blockedTerms: blockIf, fuzzyMatching: opts.fuzzyMatching === true, maxDistance });
    return {
      maxMatchLength: terms.maxMatchLength,
      ...(terms.maxSpacedMatchLength !== undefined ? { maxSpacedMatchLength: terms.maxSpacedMatchLength } : {}),
      scan(text: string): DetectorMatch[] {
        return terms.scan(text).map((m) => ({ type: SAFETY_TYPE, rule: 'block_if', start: m.start, end: m.end }));
      },
    };
  }

  // ---- built-in phrase rules, behind a keyword prefilter ---------------------------------------------------
  const rules = compileRules(mode);
  const keywords = [...new Set(rules.flatMap((r) => r.keywords))];
  const prefilter = new RegExp(trieSource(keywords, ' '), 'gi');

  // ---- fuzzy unmistakable terms (only misspelt forms are reported) -------------------------------------------
  const fuzzyTerms = opts.fuzzyMatching ? FUZZY_TERMS[mode] : [];
  const fuzzyCategory = new Map(fuzzyTerms.map(([c, t]) => [t, c]));
  const fuzzy = fuzzyTerms.length > 0 ? createDlpScanner({ blockedTerms: fuzzyTerms.map(([, t]) => t), fuzzyMatching: true, maxDistance }) : undefined;
  const fuzzyNorm = (s: string): string => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
  const fuzzyList = fuzzyTerms.map(([, t]) => t);

  return {
    maxMatchLength: Math.max(MAX_MATCH, fuzzy?.maxMatchLength ?? 0),
    scan(text: string): DetectorMatch[] {
      const out: Candidate[] = [];
      // Which keywords occur (one pass), then only the rules that could match.
      // Where the keywords occur (one pass); then each rule runs only in windows around its keywords' hits.
      const hits = new Map<string, number[]>();
      prefilter.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = prefilter.exec(text)) !== null) {
        const k = m[0].toLowerCase();
        const at = hits.get(k);
        if (at) at.push(m.index);
        else hits.set(k, [m.index]);
      }
      if (hits.size > 0) {
        for (const r of rules) {
          // The trie matches the longest keyword at a position: a shorter one may hide inside it ("prod" in "production").
          let pos: number[] = [];
          let lists = 0;
          for (const [k, at] of hits) {
            if (!r.keywords.some((w) => k.includes(w))) continue;
            pos = lists++ === 0 ? at : pos.concat(at);
          }
          if (lists === 0) continue;
          if (lists > 1) pos.sort((x, y) => x - y);
          // A match holds a keyword and is at most MAX_MATCH long: it lies within MAX_MATCH of the keyword.
          for (let i = 0; i < pos.length; ) {
            const ws = Math.max(0, pos[i]! - MAX_MATCH);
            let we = Math.min(text.length, pos[i]! + MAX_MATCH + 32);
            i++;
            while (i < pos.length && pos[i]! - MAX_MATCH <= we) we = Math.min(text.length, pos[i++]! + MAX_MATCH + 32);
            scanWindow(r, text, ws, we, out);
          }
        }
      }
      if (fuzzy) {
        for (const f of fuzzy.scan(text)) {
          const norm = fuzzyNorm(text.slice(f.start, f.end));
          if (f.rule !== 'blocked-term-fuzzy' || fuzzyCategory.has(norm)) continue;
          // Which term it is closest to (for the category).
          let term = fuzzyList[0]!;
          let best = Infinity;
          for (const t of fuzzyList) {
            const d = boundedLevenshtein(norm, t, maxDistance);
            if (d < best) [best, term] = [d, t];
          }
          out.push({ type: SAFETY_TYPE, rule: `${mode}:${fuzzyCategory.get(term)!}`, start: f.start, end: f.end, priority: 1 });
        }
      }
      return resolveOverlaps(out);
    },
  };
}

