/**
 * Which export target an attachment gets (issue 4: "the pool's config chooses the default
 * target; the connector's platform/request may choose another where the pool offers it").
 * Pure: the gateway passes what the pool advertises in its heartbeat.
 *
 * The rule, in order:
 * 1. `targetKind` in the request wins, if the pool offers it; otherwise BAD_USER_INPUT
 *    naming the pool and what it offers.
 * 2. Without `targetKind`: the pool's `defaultTarget` — except when that is iSCSI, the
 *    connector has no initiator name and the pool offers NBD: then NBD, since iSCSI cannot
 *    export to a consumer without an initiator (the target lets in only that initiator)
 *    and NBD needs none.
 * 3. An iSCSI choice with a connector but no initiator is BAD_USER_INPUT (the initiator is
 *    required), saying whether NBD would have been possible.
 *
 * Without a connector (a reservation) the choice is made from the request and the pool's
 * default alone; `updateAttachment` keeps it. A pool whose agent never advertised its
 * targets (an older agent) is read as offering both, iSCSI by default (`UNADVERTISED_OFFER`);
 * the agent still refuses a kind its pool does not offer.
 */
import type { AttachTargetKind } from './attachment-states.js';
import { BadInputError } from './errors.js';

/** What a pool offers, from its heartbeat. */
export interface PoolTargetOffer {
  targets: readonly AttachTargetKind[];
  defaultTarget: AttachTargetKind;
}

/** How a pool is read when its heartbeat does not say: Flint's defaults before pools chose. */
export const UNADVERTISED_OFFER: PoolTargetOffer = Object.freeze({ targets: Object.freeze(['iscsi', 'nbd'] as const), defaultTarget: 'iscsi' });

export interface TargetChoiceInput {
  /** The volume's pool and host, for messages. */
  pool: string;
  host: string;
  /** From the pool's heartbeat; `undefined` when it does not advertise (see `UNADVERTISED_OFFER`). */
  offer: Partial<PoolTargetOffer> | undefined;
  /** `targetKind` of the request, if any. */
  requested?: AttachTargetKind | null;
  /** The checked connector; null while reserving without one. */
  connector: { initiator: string | null } | null;
}

export interface TargetChoice {
  kind: AttachTargetKind;
  /** Why: for the log. */
  reason: 'requested' | 'pool default' | 'no initiator: nbd';
}

const NAME: Record<AttachTargetKind, string> = { iscsi: 'ISCSI', nbd: 'NBD' };

/** The offer `o` as advertised, with the defaults an older agent implied. */
export function offerOf(o: Partial<PoolTargetOffer> | undefined): PoolTargetOffer {
  const targets = o?.targets && o.targets.length > 0 ? o.targets : UNADVERTISED_OFFER.targets;
  const defaultTarget = o?.defaultTarget && targets.includes(o.defaultTarget) ? o.defaultTarget : targets.includes('iscsi') ? 'iscsi' : targets[0]!;
  return { targets, defaultTarget };
}

/**
 * Chooses the attachment's target kind.
 * @throws BadInputError when the request asks for a kind the pool does not offer, or when the
 * choice is iSCSI and the connector has no initiator.
 */
export function chooseAttachmentTarget(input: TargetChoiceInput): TargetChoice {
  const offer = offerOf(input.offer);
  const offers = offer.targets.map((k) => NAME[k]).join(' and ');
  const where = `Pool ${input.pool} on host ${input.host}`;
  const noInitiator = input.connector !== null && !input.connector.initiator;
  if (input.requested) {
    if (!offer.targets.includes(input.requested)) {
      throw new BadInputError([
        `${where} does not offer ${NAME[input.requested]} exports; it offers ${offers}. Ask for targetKind ${NAME[offer.defaultTarget]}, or leave targetKind out to get the pool's default (${NAME[offer.defaultTarget]}).`,
      ]);
    }
    if (input.requested === 'iscsi' && noInitiator) throw initiatorRequired(offer.targets.includes('nbd') ? 'or ask for targetKind NBD, which needs none' : undefined);
    return { kind: input.requested, reason: 'requested' };
  }
  if (offer.defaultTarget === 'iscsi' && noInitiator) {
    if (offer.targets.includes('nbd')) return { kind: 'nbd', reason: 'no initiator: nbd' };
    throw initiatorRequired(`pool ${input.pool} on host ${input.host} offers only ISCSI`);
  }
  return { kind: offer.defaultTarget, reason: 'pool default' };
}

function initiatorRequired(hint: string | undefined): BadInputError {
  return new BadInputError([
    `connector.initiator is required for an iSCSI attachment: give the consumer's initiator IQN (e.g. from /etc/iscsi/initiatorname.iscsi)${hint ? `; ${hint}` : ''}`,
  ]);
}
