/**
 * The connector a consumer sends with an attachment (Cinder's `connector` dict:
 * initiator, host, ip, multipath, platform, os_type), checked with messages that say
 * what to fix. Pure.
 */
import { isIP } from 'node:net';
import { Problems } from './volume-input.js';

export interface ConnectorInput {
  initiator?: string | null;
  host?: string | null;
  ip?: string | null;
  multipath?: boolean | null;
  platform?: string | null;
  osType?: string | null;
}

/** A checked connector, as stored with the attachment. */
export interface Connector {
  initiator: string | null;
  host: string;
  ip: string | null;
  multipath: boolean;
  platform: string | null;
  osType: string | null;
}

/** RFC 3720 §3.2.6.3: at most 223 bytes. */
export const INITIATOR_MAX = 223;
const LABEL = '[a-z0-9]([a-z0-9-]*[a-z0-9])?';
const IQN = new RegExp(`^iqn\\.(\\d{4})-(\\d{2})\\.${LABEL}(\\.${LABEL})*(:[\\x21-\\x7e]+)?$`);
const EUI = /^eui\.[0-9a-f]{16}$/;
const NAA = /^naa\.([0-9a-f]{16}|[0-9a-f]{32})$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,253}[A-Za-z0-9])?$/;
const WORD = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Why `name` is not an iSCSI name, or null when it is one: `iqn.yyyy-mm.reverse.domain[:id]`,
 * `eui.` + 16 hex digits, or `naa.` + 16 or 32 hex digits (RFC 3720, 3721), lower case.
 */
export function iscsiNameProblem(name: string): string | null {
  if (Buffer.byteLength(name) > INITIATOR_MAX) return `connector.initiator must be at most ${INITIATOR_MAX} bytes (got ${Buffer.byteLength(name)})`;
  const lower = name.toLowerCase();
  if (lower.startsWith('iqn.')) {
    const m = IQN.exec(lower);
    if (!m) {
      return `connector.initiator "${name}" is not a valid IQN: write it as iqn.YYYY-MM.reversed.domain[:identifier], e.g. iqn.2004-10.com.example:host1 (letters, digits, "-" and "." in the domain)`;
    }
    const month = Number(m[2]);
    if (month < 1 || month > 12) return `connector.initiator "${name}": the month in iqn.YYYY-MM must be 01 to 12 (got ${m[2]})`;
    return null;
  }
  if (lower.startsWith('eui.')) return EUI.test(lower) ? null : `connector.initiator "${name}" is not a valid EUI name: write eui. followed by 16 hex digits, e.g. eui.02004567a425678d`;
  if (lower.startsWith('naa.')) return NAA.test(lower) ? null : `connector.initiator "${name}" is not a valid NAA name: write naa. followed by 16 or 32 hex digits`;
  return `connector.initiator "${name}" is not an iSCSI name: it must start with iqn., eui. or naa. (e.g. iqn.2004-10.com.example:host1)`;
}

/**
 * Checks a connector and returns it normalised (the initiator in lower case, as targets compare it).
 * `needsInitiator`: the iSCSI target binds the export to the initiator, so it is required there.
 * @throws BadInputError listing every problem.
 */
export function checkConnector(input: ConnectorInput, opts: { needsInitiator: boolean }): Connector {
  const p = new Problems();
  const initiator = input.initiator ?? null;
  if (initiator === null || initiator === '') {
    if (opts.needsInitiator) p.add('connector.initiator is required for an iSCSI attachment: give the consumer\'s initiator IQN (e.g. from /etc/iscsi/initiatorname.iscsi)');
  } else {
    const problem = iscsiNameProblem(initiator);
    if (problem) p.add(problem);
  }
  const host = input.host ?? '';
  if (!host) p.add('connector.host is required: the consumer\'s host name');
  else if (!HOST.test(host)) p.add(`connector.host "${host}" must be a host name: 1 to 255 letters, digits, ".", "-" or "_", starting and ending with a letter or digit`);
  const ip = input.ip ?? null;
  if (ip !== null && ip !== '' && isIP(ip) === 0) p.add(`connector.ip "${ip}" is not an IPv4 or IPv6 address (e.g. 192.0.2.10 or 2001:db8::10)`);
  for (const [field, value] of [['platform', input.platform], ['osType', input.osType]] as const) {
    if (value !== undefined && value !== null && !WORD.test(value)) {
      p.add(`connector.${field} "${value}" must be 1 to 64 letters, digits, "_", "." or "-" (e.g. ${field === 'platform' ? 'x86_64' : 'linux2'})`);
    }
  }
  p.throwIfAny();
  return {
    initiator: initiator ? initiator.toLowerCase() : null,
    host,
    ip: ip || null,
    multipath: input.multipath ?? false,
    platform: input.platform ?? null,
    osType: input.osType ?? null,
  };
}

/** The instance id (Cinder's `instance_uuid`): any id of the consumer, 1 to 255 printable characters. */
export function checkInstanceId(p: Problems, instanceId: string | null | undefined): void {
  if (!instanceId) p.add('instanceId is required: the id of the consumer (VM, host, …) the volume is attached to');
  else if (instanceId.length > 255 || !/^[\x21-\x7e]+$/.test(instanceId)) p.add('instanceId must be 1 to 255 printable characters without spaces');
}

