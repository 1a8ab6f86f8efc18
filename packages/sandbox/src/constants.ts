/** Default cap of a template's linear memory, in 64 KiB pages (16 MiB). */
export const DEFAULT_MAX_MEMORY_PAGES = 256
/** Default wall-time limit of one call, in ms. */
export const DEFAULT_TIMEOUT_MS = 5_000
/** Default fuel budget of one call (and of a module's start function). */
export const DEFAULT_FUEL = 1_000_000_000
/** Default largest input of one call, in bytes. */
export const DEFAULT_MAX_INPUT_BYTES = 1 << 20
/** Default largest output of one call, in bytes. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1 << 20
/** Default number of warm instances (workers) kept per template. */
export const DEFAULT_POOL_SIZE = 2
/** Default number of started workers kept ready for a template's cold start or a replacement. */
export const DEFAULT_SPARE_WORKERS = 1
/** Default heap limit of one worker's JavaScript side (host buffers), in MB. */
export const DEFAULT_WORKER_HEAP_MB = 256
/** The host functions the sandbox can grant a template (namespace `extism:host/user`). */
export const GRANTABLE_HOST_FUNCTIONS = ['clock_now_ms', 'random_u64'] as const
/** Kernel imports (`extism:host/env`) every template may use. */
export const KERNEL_IMPORTS: readonly string[] = [
  'alloc', 'free', 'length', 'length_unsafe', 'input_length', 'input_load_u8', 'input_load_u64', 'input_offset', 'output_set',
  'error_set', 'error_get', 'config_get', 'var_get', 'var_set', 'store_u8', 'load_u8', 'store_u64', 'load_u64',
  'log_warn', 'log_info', 'log_debug', 'log_error', 'log_trace', 'get_log_level', 'http_status_code', 'http_headers'
]
/** Default largest Extism `config` of one call (keys and values, UTF-8 bytes). */
export const DEFAULT_MAX_CONFIG_BYTES = 16 << 10
/** Most keys one call's Extism `config` may hold. */
export const MAX_CONFIG_KEYS = 64
/** Default most outbound HTTP requests one call may make. */
export const DEFAULT_HTTP_MAX_REQUESTS = 16
/** Default largest response body a template's HTTP request reads, in bytes. */
export const DEFAULT_HTTP_MAX_RESPONSE_BYTES = 1 << 20
/** Default largest request body a template may send, in bytes. */
export const DEFAULT_HTTP_MAX_REQUEST_BYTES = 1 << 20
/** Default time limit of one outbound HTTP request, in ms (the call's own timeout applies too). */
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000
/** Default redirects a template's HTTP request follows, each hop checked against its allowed hosts. */
export const DEFAULT_HTTP_MAX_REDIRECTS = 5
