/** Dev-split metrics of the prompt-injection classifier, shared by the trainer and the test that checks them. */

export interface LabelledCase {
  text: string;
  label: 'injection' | 'benign';
  kind?: string;
}

export interface Metrics {
  recall: number;
  fp_rate: number;
  injections: number;
  benign: number;
}

/**
 * Kinds of the injection-train corpus that are text an agent reads rather than what its user typed. Dev cases of
 * these kinds calibrate `indirect`; every case calibrates `direct` (agents such as Aider send whole files in the
 * user turn, so the direct operating point must hold on documents and code too).
 */
export function isIndirectKind(kind: string | undefined): boolean {
  if (!kind) return false;
  return (
    kind.startsWith('indirect_') ||
    ['mcp_tool_poisoning', 'code_with_trigger_words', 'code', 'docs', 'docs_with_trigger_words', 'commit_message', 'i18n_strings', 'translated_docs', 'email_document', 'table_document', 'code_document', 'tool_description', 'package_json', 'ci_config', 'ci_log', 'quoted_attack_in_code', 'security_discussion', 'agent_instructions', 'agent_system_prompt'].includes(kind)
  );
}

/**
 * Benign kinds of the injection-train corpus that are what a coding agent sends and reads: source, configuration,
 * commits, repository docs, agent rules and tool descriptions. The issue allows at most 1 % false positives on this
 * traffic, so the trainer's operating points hold 1 % on these kinds as well as on all benign cases.
 */
export function isCodingAgentKind(kind: string | undefined): boolean {
  return kind !== undefined && ['agent_instructions', 'ci_config', 'ci_log', 'code', 'code_document', 'code_with_trigger_words', 'commit_message', 'docs', 'docs_with_trigger_words', 'package_json', 'quoted_attack_in_code', 'tool_description', 'i18n_strings'].includes(kind);
}

/** Recall and false-positive rate of `flagged` (one per case) over the cases `keep` selects. */
export function metrics(cases: readonly LabelledCase[], flagged: readonly boolean[], keep: (c: LabelledCase) => boolean): Metrics {
  let tp = 0;
  let pos = 0;
  let fp = 0;
  let neg = 0;
  cases.forEach((c, i) => {
    if (!keep(c)) return;
    if (c.label === 'injection') {
      pos++;
      if (flagged[i]) tp++;
    } else {
      neg++;
      if (flagged[i]) fp++;
    }
  });
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  return { recall: r4(pos ? tp / pos : 0), fp_rate: r4(neg ? fp / neg : 0), injections: pos, benign: neg };
}

/** The report the trainer writes to model-metrics.json, from the scanner's decisions at each source. */
export function devReport(dev: readonly LabelledCase[], direct: readonly boolean[], indirect: readonly boolean[]) {
  return {
    data: 'injection-train dev split',
    cases: dev.length,
    direct: { all: metrics(dev, direct, () => true), direct_kinds: metrics(dev, direct, (c) => !isIndirectKind(c.kind)), coding_agent_fp: metrics(dev, direct, (c) => c.label === 'benign' && isCodingAgentKind(c.kind)).fp_rate },
    indirect: { all: metrics(dev, indirect, () => true), indirect_kinds: metrics(dev, indirect, (c) => isIndirectKind(c.kind)) },
  };
}
