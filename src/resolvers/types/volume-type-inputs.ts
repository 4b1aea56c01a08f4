import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int } from 'type-graphql';

@InputType({ description: 'What to change of a volume type (`updateVolumeType`); give at least one of name, description, extraSpecs, isPublic.' })
export class UpdateVolumeTypeInput {
  @Field(() => ID, { description: 'Id of the volume type (from `volumeTypes` or `volumeType`).' })
  id!: string;

  @Field(() => String, {
    nullable: true,
    description: 'New unique name, 1 to 255 characters; the volumes of the type follow the rename. A name in use is CONFLICT.',
  })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'New free text for people, up to 1024 characters; an empty string clears it.' })
  description?: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'New extra specs, replacing the old ones whole (same rules as on create). Refused (INVALID_STATE) while volumes that are not DELETED use the type: ' +
      'create a new type and retype them instead (Cinder refuses too).',
  })
  extraSpecs?: Record<string, unknown> | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether every project may use it; false keeps it to admins and the projects granted access.' })
  isPublic?: boolean | null;

  @Field(() => Int, { nullable: true, description: 'The `version` you last read: when the type changed since, the update is CONFLICT. Omit to change it whatever its version.' })
  expectedVersion?: number | null;
}

@InputType({ description: 'A private volume type and a project (`addVolumeTypeAccess`, `removeVolumeTypeAccess`).' })
export class VolumeTypeAccessInput {
  @Field(() => ID, { description: 'Id of the volume type.' })
  volumeTypeId!: string;

  @Field(() => ID, { description: 'Id of the project (its members read it as `viewer.projectId`).' })
  projectId!: string;
}
