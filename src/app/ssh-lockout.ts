/**
 * `apply` over SSH refuses a policy that drops the session it runs in:
 * sshd puts "client_ip client_port server_ip server_port" in
 * SSH_CONNECTION, and the session's inbound packets must be allowed by every
 * interface the policy is applied to, proven as a `protect` is
 * (src/compiler/lockout.ts). `--force` skips it.
 */
import { formatPacket } from '../packet/describe.js';
import { droppedBy, proveAllowed, sessionTraffic, type IrInterface, type TcpSession } from '../compiler/index.js';
import { ExitCode } from './exit-codes.js';
import { UserError } from './user-error.js';

/** SSH_CONNECTION's four fields, or undefined when it is not of that form. */
export function parseSshConnection(value: string | undefined): TcpSession | undefined {
  const fields = value?.trim().split(/\s+/) ?? [];
  if (fields.length !== 4) return undefined;
  const [client, clientPort, server, serverPort] = fields;
  const port = (text: string) => (/^\d{1,5}$/.test(text) && Number(text) <= 65535 ? Number(text) : undefined);
  const cp = port(clientPort);
  const sp = port(serverPort);
  return cp === undefined || sp === undefined ? undefined : { client, clientPort: cp, server, serverPort: sp };
}

/**
 * Throws `lockout` (exit 1) when an interface drops the session's packets;
 * returns a note when SSH_CONNECTION is set but cannot be read, so the user
 * knows the check did not run.
 */
export function refuseSessionLockout(interfaces: readonly IrInterface[], sshConnection: string | undefined): string | undefined {
  if (sshConnection === undefined || sshConnection.trim() === '') return undefined;
  const session = parseSshConnection(sshConnection);
  const traffic = session && sessionTraffic(session);
  if (!session || !traffic)
    return `SSH_CONNECTION '${sshConnection}' is not 'client_ip client_port server_ip server_port': the SSH session was not checked`;
  const end = (address: string, port: number) => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);
  const described = `${end(session.client, session.clientPort)} > ${end(session.server, session.serverPort)}`;
  for (const iface of interfaces) {
    const outcome = proveAllowed(iface, traffic);
    if (outcome.kind === 'proven') continue;
    const why =
      outcome.kind === 'too-large'
        ? 'the proof that it allows them is too large to finish'
        : `${droppedBy(iface, outcome)}: ${formatPacket(outcome.packet)}`;
    throw new UserError(
      'lockout',
      `this policy would cut the SSH session apply runs in (tcp ${described}): on interface '${iface.name}', ${why}; nothing was applied`,
      ExitCode.policy,
      `allow the session's traffic (and add 'protect tcp dport ${session.serverPort} src ${session.client}' so check proves it), or pass --force to apply anyway`,
    );
  }
  return undefined;
}
