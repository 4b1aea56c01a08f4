/**
 * Names of the iSCSI target (pure): IQNs and the checks of an export request.
 */
import { DriverError } from '../drivers/index.js';
import type { ExportRequest } from './target.js';

/** The naming authority of Flint's targets. */
export const IQN_BASE = 'iqn.2026-11.io.flint';

const ATTACHMENT_ID = /^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$/;
/** RFC 3720 iSCSI names: `iqn.` then a date, a reversed domain and an optional `:` part; or `eui.`/`naa.` hex. */
const IQN = /^(iqn\.\d{4}-\d{2}\.[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[^\s,]+)?|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16}([0-9A-Fa-f]{16})?)$/;
/** tgt accounts: printable, no whitespace, no quoting surprises. */
const CHAP_USER = /^[A-Za-z0-9._@:-]{1,128}$/;
const CHAP_SECRET = /^[\x21-\x7e]{12,128}$/;

/** The host part of our IQNs: lowercase, only letters, digits, '.' and '-'. */
export function hostToken(host: string): string {
  const token = host
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '');
  return token || 'host';
}

export function iqnPrefix(host: string): string {
  return `${IQN_BASE}:${hostToken(host)}:`;
}

/** `iqn.2026-11.io.flint:<host>:<attachment id>` (lowercase, as IQNs are case-insensitive). */
export function targetIqn(host: string, attachmentId: string): string {
  return `${iqnPrefix(host)}${attachmentId.toLowerCase()}`;
}

export function isIqn(name: string): boolean {
  return IQN.test(name) && name.length <= 223;
}

/** @throws DriverError (not retryable) naming the bad field. */
export function validateExportRequest(req: ExportRequest): void {
  const bad = (what: string): never => {
    throw new DriverError(`iscsi export of attachment ${req.attachmentId}: ${what}`, { retryable: false });
  };
  if (!ATTACHMENT_ID.test(req.attachmentId)) bad('the attachment id may hold only letters, digits, "." and "-" (at most 128)');
  if (req.initiator !== undefined && !isIqn(req.initiator)) bad(`initiator "${req.initiator}" is not an iSCSI qualified name (iqn.YYYY-MM.reversed.domain[:name])`);
  if (req.chap) {
    if (!CHAP_USER.test(req.chap.username)) bad('the CHAP user name may hold only letters, digits and . _ @ : - (1 to 128)');
    if (!CHAP_SECRET.test(req.chap.password)) bad('the CHAP secret must be 12 to 128 printable characters without spaces');
  }
  if (req.image.format !== 'raw' && req.image.format !== 'qcow2') bad(`image format ${String(req.image.format)} cannot be exported`);
}
