import { Field, ID, InterfaceType } from 'type-graphql';

@InterfaceType({ description: 'An object with a global id (Relay\'s Node): volumes, snapshots, operations and volume types. Fetch any of them with `node(id)`.' })
export abstract class Node {
  @Field(() => ID, { description: 'Stable, globally unique id (a UUID); never reused.' })
  id!: string;
}

