/** Metrics of the scheduler and agent roles, registered in the process registry on first use. */
import { Counter, Histogram } from 'prom-client';
import { agentCommandOutcome, placementOutcome, type Emitted } from './labels.js';
import { metricsRegistry, once } from './registry.js';

/** Buckets of `flint_agent_command_duration_seconds`: qemu-img runs from milliseconds to a minute. */
export const AGENT_COMMAND_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const schedulerMetrics = once(() => ({
  placements: new Counter({
    name: 'flint_scheduler_placements_total',
    help: 'Create decisions of the scheduler: placed (sent to an agent), no_valid_backend (failed), waiting (for silent pools).',
    labelNames: ['outcome'] as const,
    registers: [metricsRegistry()],
  }),
}));

/** Counts one create decision from what it returned and what it published. */
export function countPlacement(decision: 'done' | { retryAfterMs: number }, emitted: readonly Emitted[]): void {
  schedulerMetrics().placements.inc({ outcome: placementOutcome(decision, emitted) });
}

export const agentMetrics = once(() => {
  const registers = [metricsRegistry()];
  return {
    commands: new Counter({
      name: 'flint_agent_commands_total',
      help: 'Commands an agent handled, by command and outcome (succeeded|failed|rescheduled|error).',
      labelNames: ['command', 'outcome'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'flint_agent_command_duration_seconds',
      help: 'Time an agent took to handle a command (driver work and the publish of its outcome).',
      labelNames: ['command'] as const,
      buckets: AGENT_COMMAND_BUCKETS,
      registers,
    }),
  };
});

/** Counts and times one agent command (`command` must be a known command name or `unknown`). */
export function countAgentCommand(command: string, emitted: readonly Emitted[], seconds: number): void {
  const m = agentMetrics();
  m.commands.inc({ command, outcome: agentCommandOutcome(emitted) });
  m.duration.observe({ command }, seconds);
}
