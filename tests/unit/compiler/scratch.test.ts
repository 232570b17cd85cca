import { test } from 'vitest';
import { documentOf } from './helpers.js';
import { compilePolicy, compiledToJson, compileInterface } from '../../../src/compiler/index.js';
import { CheckContext } from '../../../src/compiler/context.js';
import { AST_CHECKS, IR_CHECKS } from '../../../src/compiler/checks/index.js';
import { lowerPolicy } from '../../../src/compiler/lower.js';

function bigSet(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) lines.push(`100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    else lines.push(`${1 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}.0/24`);
  }
  return lines.join('\n') + '\n';
}

function manyRules(n: number): string {
  const lines = ['set big from "big.txt"', 'interface eth0 {', '  default drop', '  drop src @big name "big"'];
  for (let i = 1; i < n; i++) {
    switch (i % 6) {
      case 0: lines.push(`  allow tcp dport ${i}`); break;
      case 1: lines.push(`  allow udp dport ${i}-${i + 100} src 172.${16 + (i % 16)}.${i & 255}.0/24`); break;
      case 2: lines.push(`  drop dst 2001:db8:${(i).toString(16)}::/48 tcp flags syn / syn,ack`); break;
      case 3: lines.push(`  allow icmp type ${i % 256} src 192.168.${i & 255}.0/24`); break;
      case 4: lines.push(`  allow tcp sport ${i} dport 443 dst 10.${i & 255}.${(i >> 8) & 255}.0/24`); break;
      case 5: lines.push(`  drop src ! 10.0.0.0/8 proto ${i % 256}`); break;
    }
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

test('scale', () => {
  let t = performance.now();
  const set = bigSet(1_000_000);
  const text = manyRules(4096);
  console.log('gen', performance.now() - t); t = performance.now();
  const doc = documentOf(text, { 'big.txt': set });
  console.log('parse', performance.now() - t); t = performance.now();
  t = performance.now();
  const r = compilePolicy(doc);
  console.log('compile', performance.now() - t, r.diagnostics.length, r.diagnostics.slice(0, 3).map((d) => d.message));
  const c = r.compiled!.interfaces[0];
  console.log('vectors', c.vectors.length, 'src4', c.src4.length, 'dst6', c.dst6.length);
  t = performance.now();
  const j = JSON.stringify(compiledToJson(r.compiled!));
  console.log('json', performance.now() - t, j.length);
}, 120000);
