/** Environment variable naming the node the commands talk to (below `--api`, above the saved login). */
export const API_ENV = 'QFLOW_API'

/** Environment variable holding the bearer token (overrides the saved login's token). */
export const TOKEN_ENV = 'QFLOW_TOKEN'

/** Environment variable of the XDG base directory the credentials file lives under. */
export const CONFIG_HOME_ENV = 'XDG_CONFIG_HOME'

/** Directory under the config home that holds the credentials file. */
export const CONFIG_DIR_NAME = 'qflow'

/** File name of the saved login (API URL and token). */
export const CREDENTIALS_FILE_NAME = 'credentials.json'

/** File mode of the credentials file: owner read/write only. */
export const CREDENTIALS_FILE_MODE = 0o600

/** Directory mode of `<config home>/qflow`: owner only. */
export const CONFIG_DIR_MODE = 0o700

/** Format version written into the credentials file. */
export const CREDENTIALS_FORMAT = 1

/** How often `exec start --wait` and `exec logs --follow` look at the execution when no event says so, ms. */
export const REMOTE_POLL_MS = 1_000

/** The first poll interval when there is no event stream, ms (it doubles up to {@link REMOTE_POLL_MS}). */
export const FIRST_POLL_MS = 100

/** How often the progress line is redrawn, ms. */
export const REMOTE_PROGRESS_INTERVAL_MS = 250

/** Log entries asked for per page. */
export const LOG_PAGE_LIMIT = 500

/** Flows or executions asked for per page when listing everything. */
export const LIST_PAGE_LIMIT = 100
