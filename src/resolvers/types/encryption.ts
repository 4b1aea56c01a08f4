/** A volume type's encryption at rest as the API shows and takes it (src/domain/encryption.ts holds the rules). */
import { Field, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { CIPHERS, DEFAULT_CIPHER, DEFAULT_KEY_SIZE, type EncryptionSpec } from '../../domain/encryption.js';

export enum EncryptionProviderEnum {
  LUKS = 'LUKS',
}
registerEnumType(EncryptionProviderEnum, {
  name: 'EncryptionProvider',
  description: 'How volumes are encrypted at rest.',
  valuesConfig: {
    LUKS: { description: 'LUKS: qcow2\'s built-in LUKS on qcow2 pools, a LUKS container on raw pools.' },
  },
});

const CIPHER_LIST = Object.entries(CIPHERS)
  .map(([c, sizes]) => `${c} (${sizes.join(' or ')} bits)`)
  .join(', ');

@ObjectType('VolumeTypeEncryption', {
  description:
    'Encryption at rest of a volume type\'s volumes (Cinder\'s encryption type): each volume gets a random key of its own, sealed with the installation\'s secret key and never returned by the API; ' +
    'the pool holds only ciphertext and consumers see plaintext through their attachments.',
})
export class VolumeTypeEncryptionObject {
  @Field(() => EncryptionProviderEnum, { description: 'LUKS.' })
  provider!: EncryptionProviderEnum;

  @Field({ description: `Cipher in dm-crypt's notation: ${CIPHER_LIST}.` })
  cipher!: string;

  @Field(() => Int, { description: 'Key size in bits, as cryptsetup counts it (an XTS key holds two AES keys: 256 is AES-128-XTS, 512 AES-256-XTS).' })
  keySize!: number;

  static from(s: EncryptionSpec | null): VolumeTypeEncryptionObject | null {
    return s ? Object.assign(new VolumeTypeEncryptionObject(), { provider: s.provider as EncryptionProviderEnum, cipher: s.cipher, keySize: s.keySize }) : null;
  }
}

@InputType('VolumeTypeEncryptionInput', { description: 'Encryption at rest for a new volume type\'s volumes, e.g. `{provider: LUKS, cipher: "aes-xts-plain64", keySize: 256}`.' })
export class VolumeTypeEncryptionInput {
  @Field(() => EncryptionProviderEnum, { nullable: true, defaultValue: EncryptionProviderEnum.LUKS, description: 'LUKS (the default).' })
  provider?: EncryptionProviderEnum | null;

  @Field(() => String, { nullable: true, defaultValue: DEFAULT_CIPHER, description: `One of ${CIPHER_LIST}; default ${DEFAULT_CIPHER}. Another is BAD_USER_INPUT.` })
  cipher?: string | null;

  @Field(() => Int, { nullable: true, defaultValue: DEFAULT_KEY_SIZE, description: `Key size in bits, one the cipher allows; default ${DEFAULT_KEY_SIZE}. Another is BAD_USER_INPUT.` })
  keySize?: number | null;
}
