/**
 * The Kubernetes manifests of deploy/kubernetes, built by kustomize as
 * `kubectl apply -k` would, each object checked against the Kubernetes API
 * schemas (kubernetes-models), and the settings the daemon depends on held
 * to what docs/controller.md ("Kubernetes") says.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

import { configFromYaml } from '../../../src/controller/config.js';
import { bpffsRoot, DEFAULT_RUN_DIR } from '../../../src/xdp/pins.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const KUBE = path.join(REPO, 'deploy/kubernetes');

/** The capabilities the daemon container adds, each justified in daemonset.yaml and docs/controller.md. */
const CAPABILITIES = ['NET_ADMIN', 'SYS_ADMIN'];

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

function kustomize(dir: string): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', path.join(KUBE, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'apps/v1/DaemonSet': DaemonSet,
};

const base = kustomize('base');
const overlay = kustomize('overlays/detach-on-exit');
const find = (objects: K8sObject[], kind: string) => objects.find((o) => o.kind === kind)!;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the schemas were checked above; the assertions read deep fields
const daemonSet = find(base, 'DaemonSet') as any;
const pod = daemonSet.spec.template.spec;
const daemon = pod.containers[0];
const init = pod.initContainers[0];
const metricsPort: number = daemon.ports.find((p: { name: string }) => p.name === 'metrics').containerPort;

describe('deploy/kubernetes', () => {
  it('builds the namespace, service account, service, config map and daemon set, each valid against the Kubernetes schemas', () => {
    for (const objects of [base, overlay]) {
      expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'DaemonSet', 'Namespace', 'Service', 'ServiceAccount']);
      for (const o of objects) {
        const Model = MODELS[`${o.apiVersion}/${o.kind}`];
        expect(Model, `${o.apiVersion} ${o.kind}`).toBeDefined();
        expect(() => new Model(o as never).validate(), `${o.kind} ${o.metadata.name}`).not.toThrow();
        if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe('xdpfw');
      }
    }
  });

  it('the daemon container adds exactly the documented capabilities, unprivileged, on a read-only root', () => {
    expect(daemon.securityContext).toEqual({
      runAsUser: 0,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: CAPABILITIES },
    });
    const docs = fs.readFileSync(path.join(REPO, 'docs/controller.md'), 'utf8');
    for (const cap of CAPABILITIES) expect(docs).toContain(`CAP_${cap}`);
  });

  it('runs on the host network of every node, first among pods, one node at a time', () => {
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(0);
    expect(daemonSet.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(pod.serviceAccountName).toBe('xdpfw');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(find(base, 'ServiceAccount').automountServiceAccountToken).toBe(false);
  });

  it('mounts the bpffs on the host, where the daemon pins, and shows it to the daemon', () => {
    const hostRun = pod.volumes.find((v: { name: string }) => v.name === 'run-xdpfw');
    expect(hostRun.hostPath.path).toBe(DEFAULT_RUN_DIR);
    expect(init.securityContext).toEqual({ privileged: true });
    expect(init.volumeMounts).toEqual([{ name: 'run-xdpfw', mountPath: DEFAULT_RUN_DIR, mountPropagation: 'Bidirectional' }]);
    expect(init.command.join(' ')).toContain(`mount -t bpf -o mode=0700 bpf ${bpffsRoot()}`);
    expect(daemon.volumeMounts).toContainEqual({ name: 'run-xdpfw', mountPath: DEFAULT_RUN_DIR, mountPropagation: 'HostToContainer' });
  });

  it('runs xdpfw run with the ConfigMap as its configuration, the node name and the pod (node) address for metrics', () => {
    expect(daemon.args).toEqual([
      'run',
      '--config',
      '/etc/xdpfw/config/run.yaml',
      '--node',
      '$(NODE_NAME)',
      '--metrics',
      `$(POD_IP):${metricsPort}`,
    ]);
    expect(daemon.env).toEqual([
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ]);
    expect(daemon.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/xdpfw/config', readOnly: true });
    expect(pod.volumes).toContainEqual({ name: 'config', configMap: { name: 'xdpfw-config' } });
  });

  it('the ConfigMap keeps its name across edits and holds a run.yaml whose interfaces the example policy covers', () => {
    const configMap = find(base, 'ConfigMap') as K8sObject & { data: Record<string, string> };
    expect(configMap.metadata.name).toBe('xdpfw-config');
    expect(Object.keys(configMap.data).sort()).toEqual(['edge.xdpfw', 'run.yaml']);
    const config = configFromYaml(configMap.data['run.yaml'], '/etc/xdpfw/config/run.yaml', 'worker-1');
    for (const i of config.interfaces) {
      expect(i.source).toEqual({ kind: 'file', path: '/etc/xdpfw/config/edge.xdpfw' });
      expect(configMap.data['edge.xdpfw']).toMatch(new RegExp(`^interface ${i.name} \\{`, 'm'));
    }
  });

  it('probes readiness on /healthz and liveness on /livez, at the metrics port, which Prometheus is told to scrape', () => {
    expect(daemon.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(daemon.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'metrics' });
    expect(daemonSet.spec.template.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(metricsPort),
      'prometheus.io/path': '/metrics',
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- validated above
    const service = find(base, 'Service') as any;
    expect(service.spec.clusterIP).toBe('None');
    expect(service.spec.selector).toEqual(daemonSet.spec.template.metadata.labels);
    expect(service.spec.ports).toEqual([{ name: 'metrics', port: metricsPort, targetPort: 'metrics' }]);
  });

  it('leaves the compile worker its heap: the memory limit is above compileMemoryMb', () => {
    const limit = /^(\d+)Gi$/.exec(daemon.resources.limits.memory);
    expect(limit).not.toBeNull();
    expect(Number(limit![1]) * 1024).toBeGreaterThan(2048);
    expect(daemon.resources.requests).toBeDefined();
  });

  it('the detach-on-exit overlay adds --detach-on-exit and changes nothing else', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- validated above
    const patched = structuredClone(find(overlay, 'DaemonSet')) as any;
    expect(patched.spec.template.spec.containers[0].args).toEqual([...daemon.args, '--detach-on-exit']);
    patched.spec.template.spec.containers[0].args.pop();
    expect(overlay.filter((o) => o.kind !== 'DaemonSet')).toEqual(base.filter((o) => o.kind !== 'DaemonSet'));
    expect(patched).toEqual(daemonSet);
  });

  it("the Containerfile's sources exist in the repository", () => {
    const text = fs.readFileSync(path.join(KUBE, 'Containerfile'), 'utf8');
    const sources = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(sources.length).toBeGreaterThan(4);
    for (const source of sources) expect(fs.existsSync(path.join(REPO, source)), source).toBe(true);
  });
});
