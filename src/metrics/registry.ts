/**
 * The process's one Prometheus registry: Node's default process metrics,
 * `flint_build_info`, and the JetStream publish round trips every role makes.
 * Each role adds its own metrics to it (`gateway.ts`, `roles.ts`) when it starts, so a
 * process shows the metrics of the roles it runs (all of them in `flint dev`).
 */
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { observePublishes } from '../bus/index.js';
import { flintVersion } from '../config/version.js';

/** Buckets of `flint_nats_publish_duration_seconds`: a local ack takes about a millisecond; the client gives up at 5 s. */
export const PUBLISH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

let registry: Registry | undefined;

/** The process's registry, created (with the metrics every role has) on first use. */
export function metricsRegistry(): Registry {
  if (registry) return registry;
  const r = new Registry();
  collectDefaultMetrics({ register: r });
  new Gauge({ name: 'flint_build_info', help: 'Flint build running in this process (always 1).', labelNames: ['version'], registers: [r] })
    .set({ version: flintVersion() }, 1);
  const publish = new Histogram({
    name: 'flint_nats_publish_duration_seconds',
    help: 'JetStream publish round trips (until the stream acked, or the publish failed).',
    labelNames: ['outcome'],
    buckets: PUBLISH_BUCKETS,
    registers: [r],
  });
  observePublishes((seconds, ok) => publish.observe({ outcome: ok ? 'ok' : 'error' }, seconds));
  return (registry = r);
}

/** `fn`'s result, made once per process, on first call (metrics must be registered once). */
export function once<T>(fn: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: fn() }).v;
}
