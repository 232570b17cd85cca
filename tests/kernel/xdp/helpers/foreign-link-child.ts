/**
 * Run inside a test namespace by foreign-xdp.test.ts: attaches a pinned
 * program (another tool's) to an interface with a bpf_link of its own, as
 * libbpf's bpf_program__attach_xdp does, and pins the link so that it holds
 * the hook after this process exits. Prints {linkId, progId}.
 */

import { check } from '../../../../src/xdp/errors.js';
import * as bpf from '../../../../src/xdp/libbpf.js';
import { attachXdp, linkInfo } from '../../../../src/xdp/link.js';

const [progPin, ifname, linkPin] = process.argv.slice(2);
const progFd = bpf.objGet(progPin);
check(progFd, `opening ${progPin}`);
const { linkFd } = attachXdp(progFd, ifname, 'native');
check(bpf.objPin(linkFd, linkPin), `pinning the link at ${linkPin}`);
const info = linkInfo(linkFd);
console.log(JSON.stringify({ linkId: info.linkId, progId: info.progId }));
