/** Dev mode's choice of iSCSI and NBD ports (pure: which ports are free is given). */
import test from 'ava';
import { DEV_ISCSI_PORT, DEV_NBD_PORTS, devExportPorts, ExportPortsError, preferredExportPorts, type ExportPortsIo } from '../../../src/cli/dev/export-ports.js';

/** Every port is free but `taken`; freePort hands out `starts` in turn. */
function fakeIo(taken: Iterable<number>, starts: number[] = [20_000, 30_000, 40_000]): ExportPortsIo & { asked: number } {
  const busy = new Set(taken);
  let i = 0;
  const io = {
    asked: 0,
    isFree: (port: number) => Promise.resolve(!busy.has(port)),
    freePort: () => {
      io.asked++;
      return Promise.resolve(starts[i++ % starts.length]!);
    },
  };
  return io;
}

const defaults = { iscsiPort: 3260, nbdPorts: [10809, 10899] as const, iscsiExplicit: false, nbdExplicit: false };

test('free defaults are kept, and nothing else is looked for', async (t) => {
  const io = fakeIo([]);
  t.deepEqual(await devExportPorts(defaults, io), { iscsiPort: 3260, nbdPorts: [10809, 10899], notes: [] });
  t.is(io.asked, 0);
});

test('a taken iSCSI port moves to a free one, and says so', async (t) => {
  const r = await devExportPorts(defaults, fakeIo([3260]));
  t.is(r.iscsiPort, 20_000);
  t.deepEqual(r.nbdPorts, [10809, 10899]);
  t.regex(r.notes.join('\n'), /3260 is taken.*20000/);
});

test('an NBD range with one taken port moves whole to free consecutive ports of the same width', async (t) => {
  // The first start offered has a taken port inside its range: the next one is used.
  const r = await devExportPorts(defaults, fakeIo([10850, 20_050], [20_000, 30_000]));
  t.is(r.iscsiPort, 3260);
  t.deepEqual(r.nbdPorts, [30_000, 30_090]);
  t.regex(r.notes.join('\n'), /10809-10899 are partly taken.*30000-30090/);
});

test('a second dev session: both defaults taken, both move, and the NBD range avoids the new iSCSI port', async (t) => {
  const taken = [3260, ...Array.from({ length: 91 }, (_, i) => 10809 + i)];
  // freePort offers 20000 for iSCSI, then 19990 (a range that would hold 20000), then 40000.
  const r = await devExportPorts(defaults, fakeIo(taken, [20_000, 19_990, 40_000]));
  t.is(r.iscsiPort, 20_000);
  t.deepEqual(r.nbdPorts, [40_000, 40_090]);
  t.is(r.notes.length, 2);
});

test('a taken FLINT_ISCSI_PORT is an error naming the variable, not moved', async (t) => {
  const err = await t.throwsAsync(devExportPorts({ ...defaults, iscsiPort: 3261, iscsiExplicit: true }, fakeIo([3261])), { instanceOf: ExportPortsError });
  t.regex(err!.message, /FLINT_ISCSI_PORT=3261: the port is taken/);
});

test('FLINT_NBD_PORTS is kept while one port in it is free, an error when none is', async (t) => {
  const explicit = { ...defaults, nbdPorts: [5000, 5002] as const, nbdExplicit: true };
  const partly = await devExportPorts(explicit, fakeIo([5000, 5001]));
  t.deepEqual(partly.nbdPorts, [5000, 5002]);
  t.regex(partly.notes.join('\n'), /2 of the ports in FLINT_NBD_PORTS=5000-5002 are taken.*1 free/);
  const err = await t.throwsAsync(devExportPorts(explicit, fakeIo([5000, 5001, 5002])), { instanceOf: ExportPortsError });
  t.regex(err!.message, /FLINT_NBD_PORTS=5000-5002: every port in it is taken/);
});

test('no free port found at all is an error, not a loop', async (t) => {
  // freePort keeps offering a port that is taken again by the time it is checked.
  const io: ExportPortsIo = { isFree: (p) => Promise.resolve(p !== 3260 && p !== 20_000), freePort: () => Promise.resolve(20_000) };
  await t.throwsAsync(devExportPorts(defaults, io), { instanceOf: ExportPortsError, message: /no free port for the iSCSI portal/ });
});

test('preferred ports: the defaults, FLINT_DEV_* in their place, and FLINT_ISCSI_PORT/FLINT_NBD_PORTS as explicit', (t) => {
  const config = { iscsiPort: DEV_ISCSI_PORT, nbdPorts: DEV_NBD_PORTS };
  t.deepEqual(preferredExportPorts({}, config), { iscsiPort: 3260, nbdPorts: [10809, 10899], iscsiExplicit: false, nbdExplicit: false });
  t.deepEqual(preferredExportPorts({ FLINT_DEV_ISCSI_PORT: '23260', FLINT_DEV_NBD_PORTS: '30000-30015' }, config), {
    iscsiPort: 23_260,
    nbdPorts: [30_000, 30_015],
    iscsiExplicit: false,
    nbdExplicit: false,
  });
  // Set explicitly, even to the default value: kept as set, FLINT_DEV_* ignored.
  t.like(preferredExportPorts({ FLINT_ISCSI_PORT: '3260', FLINT_DEV_ISCSI_PORT: '23260' }, config), { iscsiPort: 3260, iscsiExplicit: true, nbdExplicit: false });
  // From a config file: only the value tells, when it is not the default.
  t.like(preferredExportPorts({}, { iscsiPort: 3000, nbdPorts: [4000, 4010] }), { iscsiPort: 3000, nbdPorts: [4000, 4010], iscsiExplicit: true, nbdExplicit: true });
});
