import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/index.js';
import { parseDockerfile } from '../helpers/dockerfile-lint.js';
import { acceptedOptions, commandsByPath } from '../helpers/doc-commands.js';
import { loadChart, renderChart, renderTemplate } from '../helpers/helm-lite.js';
import { ROOT } from '../helpers/processes.js';

/**
 * The Helm chart (deploy/helm/keeptrusts), rendered here without helm (test/helpers/helm-lite.ts) with its
 * defaults and with the other branches of its values, and checked the way the cluster would use it: selectors
 * that select, probes on routes the processes serve, Secrets that hold what the pods read, arguments the CLI
 * accepts, a pod that runs as the image's user on a read-only root filesystem.
 */

const CHART = join(ROOT, 'deploy/helm/keeptrusts');
type Doc = Record<string, unknown> & { kind: string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const render = (overrides: Record<string, unknown> = {}) => renderChart(CHART, loadChart(CHART, overrides));
const byKind = (docs: Doc[], kind: string) => docs.filter((d) => d.kind === kind) as Any[];
const named = (docs: Doc[], kind: string, suffix: string): Any => byKind(docs, kind).find((d) => (d.metadata.name as string).endsWith(suffix));
const container = (deployment: Any) => deployment.spec.template.spec.containers[0];
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('the chart with its default values', () => {
  const { documents: docs, notes } = render();

  it('renders the gateway (Deployment, Service, HPA, PodDisruptionBudget, NetworkPolicy), the control plane, Secrets and the policy config', () => {
    const kinds = docs.map((d) => d.kind).sort();
    expect(kinds).toEqual(['ConfigMap', 'Deployment', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'NetworkPolicy', 'PodDisruptionBudget', 'Secret', 'Secret', 'Service', 'Service']);
    for (const d of docs as Any[]) {
      expect(d.apiVersion, d.kind).toMatch(/^(v1|apps\/v1|autoscaling\/v2|policy\/v1|networking\.k8s\.io\/v1)$/);
      expect(d.metadata.name, d.kind).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(d.metadata.labels['app.kubernetes.io/instance']).toBe('kt');
    }
  });

  it('scales the gateway with the HPA (no fixed replica count) and keeps more pods than the disruption budget needs', () => {
    const gw = named(docs, 'Deployment', '-gateway');
    const hpa = byKind(docs, 'HorizontalPodAutoscaler')[0];
    const pdb = byKind(docs, 'PodDisruptionBudget')[0];
    expect(gw.spec.replicas).toBeUndefined();
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: gw.metadata.name });
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    // A node drain can evict a pod only while more than minAvailable run.
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    expect(gw.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    // preStop, then kt's 10 s drain, both inside the grace period.
    expect(container(gw).lifecycle.preStop.exec.command).toEqual(['sleep', '5']);
    expect(gw.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(5 + 10);
  });

  it('selects the right pods everywhere: Deployments, Services, disruption budget, network policies', () => {
    for (const component of ['gateway', 'control-plane']) {
      const dep = named(docs, 'Deployment', `-${component}`);
      const labels = dep.spec.template.metadata.labels;
      expect(matches(dep.spec.selector.matchLabels, labels)).toBe(true);
      expect(matches(named(docs, 'Service', `-${component}`).spec.selector, labels)).toBe(true);
      expect(matches(named(docs, 'NetworkPolicy', `-${component}`).spec.podSelector.matchLabels, labels)).toBe(true);
      // Each selector picks only its own component.
      const other = named(docs, 'Deployment', component === 'gateway' ? '-control-plane' : '-gateway').spec.template.metadata.labels;
      expect(matches(named(docs, 'Service', `-${component}`).spec.selector, other)).toBe(false);
    }
    const gwLabels = named(docs, 'Deployment', '-gateway').spec.template.metadata.labels;
    expect(matches(byKind(docs, 'PodDisruptionBudget')[0].spec.selector.matchLabels, gwLabels)).toBe(true);
  });

  it('probes /healthz and /readyz on the gateway port, over plain HTTP when TLS ends at the ingress', () => {
    const c = container(named(docs, 'Deployment', '-gateway'));
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'api', scheme: 'HTTP' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'api', scheme: 'HTTP' });
    expect(c.startupProbe.httpGet.path).toBe('/healthz');
    expect(c.ports).toEqual([{ name: 'api', containerPort: 41002, protocol: 'TCP' }]);
    expect(c.args).toContain('--insecure-listen');
    const cp = container(named(docs, 'Deployment', '-control-plane'));
    expect(cp.readinessProbe.httpGet.path).toBe('/health');
    expect(named(docs, 'Service', '-gateway').spec.ports[0]).toMatchObject({ port: 41002, targetPort: 'api' });
  });

  it('runs kt with arguments the CLI accepts, each pod its own chain on the shared store', () => {
    const tree = commandsByPath(buildProgram());
    for (const [suffix, path] of [['-gateway', 'gateway run'], ['-control-plane', 'server']] as const) {
      const args = container(named(docs, 'Deployment', suffix)).args as string[];
      expect(args.slice(0, path.split(' ').length).join(' ')).toBe(path);
      const known = new Set(acceptedOptions(tree.get(path)!).flatMap((o) => [o.long, o.short]));
      for (const a of args) if (a.startsWith('-')) expect(known.has(a), `${path} ${a}`).toBe(true);
      const listen = args[args.indexOf('--listen') + 1];
      expect(listen).toMatch(/^0\.0\.0\.0:\d+$/);
    }
    const env = container(named(docs, 'Deployment', '-gateway')).env as Any[];
    expect(env.find((e) => e.name === 'KEEPTRUSTS_GATEWAY_ID').valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(container(named(docs, 'Deployment', '-gateway')).args).toEqual(expect.arrayContaining(['--client-auth', 'virtual-key']));
  });

  it('gives the pods the Secrets and keys they read, and the provider keys every target needs', async () => {
    const secrets = byKind(docs, 'Secret');
    const keyOf = (name: string) => secrets.find((s) => s.metadata.name === name)?.stringData as Record<string, string> | undefined;
    for (const dep of byKind(docs, 'Deployment')) {
      const c = container(dep);
      for (const e of c.env as Any[]) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) expect(keyOf(ref.name), `${dep.metadata.name}: ${ref.name}/${ref.key}`).toHaveProperty(ref.key);
      }
      for (const from of c.envFrom ?? []) expect(keyOf(from.secretRef.name), from.secretRef.name).toBeDefined();
    }
    // Provider keys only where they are used.
    expect(container(named(docs, 'Deployment', '-control-plane')).envFrom).toBeUndefined();

    const configMap = byKind(docs, 'ConfigMap')[0];
    const file = join(mkdtempSync(join(tmpdir(), 'kt-helm-')), 'policy-config.yaml');
    writeFileSync(file, configMap.data['policy-config.yaml']);
    const { loaded, diagnostics } = await loadConfig([file]);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const providerKeys = keyOf(container(named(docs, 'Deployment', '-gateway')).envFrom[0].secretRef.name)!;
    for (const t of loaded!.config.providers.targets) expect(providerKeys, t.id).toHaveProperty(t.secret_key_ref!.env);
    const mount = container(named(docs, 'Deployment', '-gateway')).volumeMounts.find((m: Any) => m.name === 'policy-config');
    expect(mount.mountPath).toBe(container(named(docs, 'Deployment', '-gateway')).args[container(named(docs, 'Deployment', '-gateway')).args.indexOf('--policy-config') + 1]);
  });

  it('runs as the image user, on a read-only root filesystem, writing only to emptyDir volumes', () => {
    const dockerUser = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).filter((i) => i.keyword === 'USER').at(-1)!.args;
    for (const dep of byKind(docs, 'Deployment')) {
      const pod = dep.spec.template.spec;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`).toBe(dockerUser);
      const c = container(dep);
      expect(c.securityContext).toEqual({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(c.image).toMatch(/:[\w.-]+$/);
      const writable = (c.volumeMounts as Any[]).filter((m) => !m.readOnly).map((m) => pod.volumes.find((v: Any) => v.name === m.name));
      for (const v of writable) expect(v.emptyDir, v.name).toEqual({});
      expect((c.volumeMounts as Any[]).map((m) => m.mountPath)).toContain('/data');
      expect(c.resources.requests).toBeDefined();
    }
  });

  it('lets the gateways reach only DNS, providers, PostgreSQL and Redis, and the control plane only DNS and PostgreSQL', () => {
    const ports = (np: Any) => np.spec.egress.flatMap((r: Any) => r.ports.map((p: Any) => `${p.port}/${p.protocol}`)).sort();
    expect(ports(named(docs, 'NetworkPolicy', '-gateway'))).toEqual(['443/TCP', '53/TCP', '53/UDP', '5432/TCP', '6379/TCP']);
    expect(ports(named(docs, 'NetworkPolicy', '-control-plane'))).toEqual(['53/TCP', '53/UDP', '5432/TCP']);
    expect(named(docs, 'NetworkPolicy', '-gateway').spec.ingress).toEqual([{ ports: [{ port: 41002, protocol: 'TCP' }] }]);
  });

  it('NOTES name commands the CLI has', () => {
    expect(notes).toContain('kubectl -n ai exec deploy/kt-gateway -- kt keys create --developer');
    const tree = commandsByPath(buildProgram());
    expect(acceptedOptions(tree.get('keys create')!).map((o) => o.long)).toContain('--developer');
    expect(acceptedOptions(tree.get('server token create')!).map((o) => o.long)).toEqual(expect.arrayContaining(['--role', '--gateway']));
  });
});

describe('the chart with the other branches of its values', () => {
  it('serves HTTPS from a TLS Secret: certificate flags, the Secret mounted read-only, HTTPS probes', () => {
    const { documents: docs } = render({ gateway: { tls: { secretName: 'gw-tls' } }, controlPlane: { tls: { secretName: 'cp-tls' } } });
    for (const [suffix, secret] of [['-gateway', 'gw-tls'], ['-control-plane', 'cp-tls']] as const) {
      const dep = named(docs, 'Deployment', suffix);
      const c = container(dep);
      expect(c.args).not.toContain('--insecure-listen');
      const cert = c.args[c.args.indexOf('--tls-cert') + 1] as string;
      const key = c.args[c.args.indexOf('--tls-key') + 1] as string;
      const mount = (c.volumeMounts as Any[]).find((m) => m.name === 'tls');
      expect(mount.readOnly).toBe(true);
      expect(cert.startsWith(`${mount.mountPath}/`) && key.startsWith(`${mount.mountPath}/`)).toBe(true);
      // kubernetes.io/tls Secrets hold tls.crt and tls.key.
      expect([cert.split('/').at(-1), key.split('/').at(-1)]).toEqual(['tls.crt', 'tls.key']);
      expect(dep.spec.template.spec.volumes.find((v: Any) => v.name === 'tls').secret.secretName).toBe(secret);
      expect(c.readinessProbe.httpGet.scheme).toBe('HTTPS');
    }
  });

  it('without autoscaling, the Deployment has the replica count and no HPA is rendered', () => {
    const { documents: docs } = render({ gateway: { autoscaling: { enabled: false }, replicas: 4 } });
    expect(byKind(docs, 'HorizontalPodAutoscaler')).toEqual([]);
    expect(named(docs, 'Deployment', '-gateway').spec.replicas).toBe(4);
  });

  it('with existing Secrets, renders none and reads the ones named', () => {
    const { documents: docs } = render({ secrets: { create: false, existingGatewaySecret: 'kt-conn', existingProviderKeysSecret: 'kt-providers' } });
    expect(byKind(docs, 'Secret')).toEqual([]);
    const c = container(named(docs, 'Deployment', '-gateway'));
    expect(new Set((c.env as Any[]).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.valueFrom.secretKeyRef.name))).toEqual(new Set(['kt-conn']));
    expect(c.envFrom[0].secretRef.name).toBe('kt-providers');
  });

  it('restricts ingress to the peers given; without the control plane or network policies, renders neither', () => {
    const peers = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }];
    const { documents: docs } = render({ networkPolicy: { gatewayIngressFrom: peers } });
    expect(named(docs, 'NetworkPolicy', '-gateway').spec.ingress[0].from).toEqual(peers);
    const off = render({ networkPolicy: { enabled: false }, controlPlane: { enabled: false } }).documents;
    expect(off.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Secret', 'Service']);
  });
});

describe('the renderer keeps the templates to what it renders as helm does', () => {
  const ctx = loadChart(CHART);
  it('trims whitespace as {{- and -}} say, and treats empty values as false', () => {
    expect(renderTemplate('a:\n  {{- if .Values.gateway.tls.secretName }}\n  x{{- else }}\n  y\n  {{- end }}\n', ctx)).toBe('a:\n  y\n');
    expect(renderTemplate('{{ toYaml .Values.gateway.resources.requests | nindent 2 }}', ctx)).toBe('\n  cpu: 500m\n  memory: 512Mi');
    expect(renderTemplate('{{ .Chart.AppVersion | quote }}', ctx)).toBe('"0.1.0"');
  });
  it('refuses what it does not implement, and values that are not set', () => {
    expect(() => renderTemplate('{{ include "x" . }}', ctx)).toThrow('unsupported');
    expect(() => renderTemplate('{{ .Values.nope }}', ctx)).toThrow('not set');
    expect(() => renderTemplate('{{ .Values.image.tag | b64enc }}', ctx)).toThrow('unsupported');
  });
});
