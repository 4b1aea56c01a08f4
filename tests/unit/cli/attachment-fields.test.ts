/** `flint attachment show` (src/cli/commands/attachment.ts): what each kind of connection prints. */
import test from 'ava';
import { attachmentFields } from '../../../src/cli/commands/attachment.js';
import type { AttachmentFieldsFragment } from '../../../src/client/index.js';

type Data = NonNullable<AttachmentFieldsFragment['connectionInfo']>['data'];
const none: Data = {
  targetIqn: null,
  targetPortal: null,
  targetLun: null,
  authMethod: null,
  authUsername: null,
  authPassword: null,
  accessMode: 'rw',
  host: null,
  port: null,
  exportName: null,
  uri: null,
  tls: false,
  tlsCaCertificate: null,
  tlsClientCertificateRequired: null,
  encrypted: false,
};

function attachment(driverVolumeType: string, data: Partial<Data>): AttachmentFieldsFragment {
  return {
    id: 'a1',
    volumeId: 'v1',
    instanceId: 'vm-1',
    status: 'ATTACHED',
    mode: 'RW',
    targetKind: driverVolumeType === 'iscsi' ? 'ISCSI' : 'NBD',
    version: 3,
    idempotencyKey: null,
    createdAt: '2026-11-25T10:00:00.000Z',
    updatedAt: '2026-11-25T10:00:01.000Z',
    attachedAt: null,
    detachedAt: null,
    connector: null,
    connectionInfo: { driverVolumeType, data: { ...none, ...data } },
    messages: [],
  } as AttachmentFieldsFragment;
}

test('iSCSI: the target, portal, LUN and CHAP account', (t) => {
  const out = attachmentFields(attachment('iscsi', { targetIqn: 'iqn.x:1', targetPortal: '10.0.0.1:3260', targetLun: 1, authMethod: 'CHAP', authUsername: 'u', authPassword: 'p' }));
  for (const re of [/target_iqn\s+iqn\.x:1/, /target_portal\s+10\.0\.0\.1:3260/, /auth_username\s+u/, /auth_password\s+p/]) t.regex(out, re);
  t.notRegex(out, /nbd_/);
});

test('NBD over TLS says so and where the CA certificate is; plain NBD says no', (t) => {
  const tls = attachmentFields(attachment('nbd', { uri: 'nbds://10.0.0.1:10809/x', tls: true, tlsCaCertificate: '-----BEGIN CERTIFICATE-----', tlsClientCertificateRequired: true }));
  t.regex(tls, /nbd_uri\s+nbds:\/\/10\.0\.0\.1:10809\/x/);
  t.regex(tls, /nbd_tls\s+yes \(CA certificate: connectionInfo\.data\.tlsCaCertificate in -o json; a client certificate signed by it is required\)/);
  t.notRegex(tls, /BEGIN CERTIFICATE/, 'the PEM is not printed in the table');
  const plain = attachmentFields(attachment('nbd', { uri: 'nbd://10.0.0.1:10809/x' }));
  t.regex(plain, /nbd_tls\s+no/);
});
