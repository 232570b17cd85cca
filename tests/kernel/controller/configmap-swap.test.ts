/**
 * The daemon as the Kubernetes DaemonSet runs it: its exact arguments, read
 * from `kubectl kustomize deploy/kubernetes/base`, against a directory laid
 * out as the kubelet lays out a ConfigMap volume (a timestamped directory,
 * `..data` pointing at it, each key a symlink through `..data`), inside a
 * network namespace. The kubelet's update (a new timestamped directory, a
 * `..data_tmp` link renamed over `..data`, the old directory removed) puts
 * the new policy in force; a refused one leaves the old in force and says
 * so in `xdpfw status` and `xdpfw_reload_failing`.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

import { loadAndCompile } from '../../../src/app/policy-loader.js';
import { scratchDir } from '../../support/scratch.js';
import { xdpfwIn, cliNamespace } from '../cli/netns-cli.js';
import { REPO, skipWithoutRoot } from '../xdp/helpers/env.js';
import { Daemon, httpGet, metric } from './daemon.js';

/** Where the DaemonSet mounts the ConfigMap; the test's directory stands in for it. */
const MOUNT = '/etc/xdpfw/config';
const NODE = 'kind-worker2';
const NODE_IP = '10.99.0.1'; // veth0's address: the pod's IP on a host-network pod

/** Each node's NIC has its own name: this node's is veth0, and the fallback names one it lacks. */
const RUN_YAML = `interfaces:
  - name: eth9
    policy: edge.xdpfw
nodes:
  - match: kind-worker*
    interfaces:
      - name: veth0
        policy: edge.xdpfw
debounceMs: 100
`;

const policy = (pings: 'allow' | 'drop') =>
  `interface veth0 {\n  default allow\n  ${pings} icmp name "pings"\n}\ninterface eth9 {\n  default allow\n}\n`;

/** The daemon container's args, with the downward API's $(VAR) filled in as the kubelet would. */
function daemonSetArgs(configDir: string): string[] {
  const text = execFileSync('kubectl', ['kustomize', path.join(REPO, 'deploy/kubernetes/base')], { encoding: 'utf8' });
  const objects = parseAllDocuments(text).map(
    (d) => d.toJS() as { kind: string; spec?: { template: { spec: { containers: { args: string[] }[] } } } },
  );
  const args = objects.find((o) => o.kind === 'DaemonSet')!.spec!.template.spec.containers[0].args;
  const vars: Record<string, string> = { NODE_NAME: NODE, POD_IP: NODE_IP };
  return args.map((a) => a.replace(/\$\((\w+)\)/g, (_, name: string) => vars[name]).replace(MOUNT, configDir));
}

/** A ConfigMap volume: what the kubelet's atomic writer makes and updates. */
class ConfigMapVolume {
  private generation = 0;
  constructor(readonly dir: string) {}

  /** A new timestamped directory with `files`, `..data` swapped to it by rename(2), the previous one removed. */
  write(files: Record<string, string>): void {
    const data = path.join(this.dir, '..data');
    const previous = fs.existsSync(data) ? fs.readlinkSync(data) : undefined;
    const stamped = `..2026_12_06_22_0${this.generation++}_00.123456789`;
    fs.mkdirSync(path.join(this.dir, stamped), { recursive: true });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(this.dir, stamped, name), text);
    fs.symlinkSync(stamped, path.join(this.dir, '..data_tmp'));
    fs.renameSync(path.join(this.dir, '..data_tmp'), data);
    for (const name of Object.keys(files)) {
      if (!fs.existsSync(path.join(this.dir, name))) fs.symlinkSync(`..data/${name}`, path.join(this.dir, name));
    }
    if (previous) fs.rmSync(path.join(this.dir, previous), { recursive: true });
  }
}

const hashOf = (file: string): string => loadAndCompile(file).compiled!.interfaces.find((i) => i.name === 'veth0')!.hash;

describe.skipIf(skipWithoutRoot('the DaemonSet command line under a ConfigMap volume'))(
  'xdpfw run as the Kubernetes DaemonSet runs it',
  () => {
    const { ns } = cliNamespace('cmswap', () => daemon?.stop());
    const volume = new ConfigMapVolume(scratchDir('xdpfw-configmap-'));
    let daemon: Daemon | undefined;

    const status = async () => {
      const r = await xdpfwIn(ns, 'status', '--json');
      expect(r.code, r.stderr).toBe(0);
      type Row = { interface: string; policyHash: string | null; refused: { reason: string; message: string } | null };
      return (JSON.parse(r.stdout) as { interfaces: Row[] }).interfaces.find((i) => i.interface === 'veth0')!;
    };
    const scrape = () => httpGet(ns, `http://${NODE_IP}:9464/metrics`).body;

    it("applies the node's interfaces, follows the kubelet's ..data swap, and keeps the old policy when one is refused", async () => {
      volume.write({ 'run.yaml': RUN_YAML, 'edge.xdpfw': policy('drop') });
      const args = daemonSetArgs(volume.dir);
      expect(args).toEqual(['run', '--config', path.join(volume.dir, 'run.yaml'), '--node', NODE, '--metrics', `${NODE_IP}:9464`]);
      daemon = new Daemon(ns, args.slice(1)); // the image's entrypoint is xdpfw; Daemon says `run` itself
      const edge = path.join(volume.dir, 'edge.xdpfw');

      const first = await daemon.waitFor((e) => e.msg === 'policy attached');
      expect(first.interface).toBe('veth0');
      expect(first.hash).toBe(hashOf(edge));
      await daemon.waitFor((e) => e.msg === 'running');
      expect(httpGet(ns, `http://${NODE_IP}:9464/healthz`).status).toBe(200);
      expect(ns.pingFromPeer()).toBe(false);

      let from = daemon.events().length;
      volume.write({ 'run.yaml': RUN_YAML, 'edge.xdpfw': policy('allow') });
      const swapped = await daemon.waitFor((e) => e.msg === 'policy replaced atomically', 15_000, from);
      expect(swapped.hash).toBe(hashOf(edge));
      expect((await status()).policyHash).toBe(swapped.hash);
      expect(ns.pingFromPeer()).toBe(true);
      expect(metric(scrape(), 'xdpfw_reload_failing{interface="veth0"}')).toBe(0);

      from = daemon.events().length;
      volume.write({ 'run.yaml': RUN_YAML, 'edge.xdpfw': 'interface veth0 {\n  default allow\n  drop icmp nonsense\n}\n' });
      const refused = await daemon.waitFor((e) => e.msg.startsWith('reload refused'), 15_000, from);
      expect(refused.interface).toBe('veth0');
      const row = await status();
      expect(row.policyHash).toBe(swapped.hash);
      expect(row.refused?.reason).toBe('invalid');
      expect(metric(scrape(), 'xdpfw_reload_failing{interface="veth0"}')).toBe(1);
      expect(httpGet(ns, `http://${NODE_IP}:9464/healthz`).status).toBe(200);
      expect(ns.pingFromPeer(), 'the policy in force before the refused one still lets pings through').toBe(true);

      from = daemon.events().length;
      volume.write({ 'run.yaml': RUN_YAML, 'edge.xdpfw': policy('drop') });
      const fixed = await daemon.waitFor((e) => e.msg === 'policy replaced atomically', 15_000, from);
      expect(fixed.hash).toBe(hashOf(edge));
      expect(metric(scrape(), 'xdpfw_reload_failing{interface="veth0"}')).toBe(0);
      expect(ns.pingFromPeer()).toBe(false);
    }, 120_000);
  },
);
