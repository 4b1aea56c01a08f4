/** Resources as Flint has them, for the plan and apply tests: of stack `web` unless told. */
import { labelsFor, type ActualVolume } from '../../../src/provider/index.js';

/** Volume `resource` of stack web as `flint apply` made it: 10 GiB, AVAILABLE, version and generation 1. */
export function actualVolume(resource: string, over: Partial<ActualVolume> = {}): ActualVolume {
  return {
    id: `id-${resource}`,
    name: `web-${resource}`,
    description: null,
    metadata: labelsFor('web', resource),
    sizeGiB: 10,
    volumeType: null,
    availabilityZone: 'nova',
    multiattach: false,
    status: 'AVAILABLE',
    version: 1,
    generation: 1,
    ...over,
  };
}
