/** The envelope format version this package writes and reads. */
export const ENVELOPE_VERSION = 1

/** The AEAD used when {@link QlockInit.alg} is not given: AES-256-GCM. */
export const DEFAULT_AEAD = 'A256GCM'

/** Length of every AEAD nonce, bytes (both AES-256-GCM and ChaCha20-Poly1305 take 96 bits). */
export const NONCE_LENGTH = 12

/** Length of every AEAD authentication tag, bytes. */
export const TAG_LENGTH = 16

/** Length of every symmetric key (data keys, key-encryption keys, the keyring master key), bytes. */
export const KEY_LENGTH = 32

/** Length of an X25519 public key or shared secret, bytes. */
export const X25519_KEY_LENGTH = 32

/** Length of a wrapped data key: the key and its tag, bytes. */
export const WRAPPED_KEY_LENGTH = KEY_LENGTH + TAG_LENGTH

/** Shortest node secret a file keyring accepts, bytes. */
export const MIN_NODE_SECRET_LENGTH = 32

/** Default directory the file keyring keeps its file under, relative to the working directory. */
export const DEFAULT_DATA_DIR = '.qflow'

/** Default name of the keyring file inside the data directory. */
export const DEFAULT_KEYRING_FILE = 'qlock-keyring.bin'

/** Longest key id accepted in envelopes and keyring files, bytes of UTF-8. */
export const MAX_KID_LENGTH = 255

/** Most recipients one sealed envelope may carry. */
export const MAX_RECIPIENTS = 1024

/** Longest recipient identity accepted in a sealed envelope, bytes of UTF-8. */
export const MAX_DID_LENGTH = 2048

/** Domain-separation label that starts every associated-data and HKDF-info string Qlock builds. */
export const QLOCK_LABEL = 'qflow/qlock/v1'

/** HKDF info that derives the keyring master key (KEK) from the node secret. */
export const KEYRING_KEK_INFO = 'qflow/qlock/keyring-kek/v1'
