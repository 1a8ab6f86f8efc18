/** Path prefix of the node's REST API. */
export const API_PREFIX = '/api/v1'

/** Path of the node's event WebSocket (under the origin, prefix included). */
export const EVENTS_PATH = '/api/v1/ws'

/** How long one request may take before the client gives up, ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/** Extra time a request that waits for an execution's result gets over the wait it asks for, ms. */
export const WAIT_GRACE_MS = 5_000

/** Events a subscription holds for a slow reader before it stops reading the socket (TCP then pushes back). */
export const EVENT_QUEUE_HIGH_WATER = 1_000

/** Events left in the queue when a paused subscription reads the socket again. */
export const EVENT_QUEUE_LOW_WATER = 100

/** How long opening the event WebSocket and subscribing may take, ms. */
export const DEFAULT_SUBSCRIBE_TIMEOUT_MS = 10_000
