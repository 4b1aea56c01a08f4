/**
 * Which projects may use a private volume type (Cinder's volume-type access,
 * `volume_type_projects`). A public type ignores these rows; a private one is visible to
 * and usable by admins and the projects listed here only.
 */
import 'reflect-metadata';
import { Entity, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ tableName: 'volume_type_access' })
export class VolumeTypeAccess {
  [OptionalProps]?: 'createdAt';
  @PrimaryKey({ type: 'string', length: 36 }) volumeTypeId!: string;
  @Index() @PrimaryKey({ type: 'string', length: 36 }) projectId!: string;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
}
