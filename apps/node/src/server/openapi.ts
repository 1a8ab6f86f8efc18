import type { RouteOptions } from 'fastify'

type Schema = Record<string, unknown>

/** What a route may tell the OpenAPI document besides its schemas (fastify route `config.openapi`). */
export interface RouteDocs {
  /** Media types the body may have besides `application/json` (e.g. `application/yaml`). */
  readonly bodyMediaTypes?: readonly string[]
  /** Media type of the success answer when it is not JSON (e.g. `text/plain` for `/metrics`). */
  readonly responseMediaType?: string
  /** Whether the route needs no bearer token. */
  readonly public?: boolean
}

/** A route as the OpenAPI document is made from it. */
export interface DocumentedRoute {
  readonly method: string
  readonly url: string
  readonly schema?: Schema
  readonly docs?: RouteDocs
}

/** The OpenAPI 3.1 document's `info`. */
export interface OpenApiInfo {
  readonly title: string
  readonly version: string
  readonly description?: string
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'options'])

/** Collects a fastify route's method(s), url, schema and docs (HEAD routes fastify adds are left out). */
export function documentedRoutes(route: RouteOptions): DocumentedRoute[] {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  const config = (route.config ?? {}) as { openapi?: RouteDocs }
  return methods
    .map((m) => String(m).toLowerCase())
    .filter((m) => METHODS.has(m))
    .map((method) => ({
      method,
      url: route.url,
      ...(route.schema === undefined ? {} : { schema: route.schema as Schema }),
      ...(config.openapi === undefined ? {} : { docs: config.openapi })
    }))
}

/** `/flows/:id/versions/:version` → `/flows/{id}/versions/{version}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}

function parameters(schema: Schema | undefined, location: 'path' | 'query'): Schema[] {
  if (schema === undefined) return []
  const properties = (schema.properties ?? {}) as Record<string, Schema>
  const required = new Set((schema.required ?? []) as string[])
  return Object.entries(properties).map(([name, s]) => {
    const { description, ...rest } = s as Schema & { description?: string }
    const isArray = rest.type === 'array'
    return {
      name,
      in: location,
      required: location === 'path' ? true : required.has(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
      ...(isArray && location === 'query' ? { style: 'form', explode: true } : {})
    }
  })
}

const STATUS_TEXT: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '202': 'Accepted',
  '204': 'No content',
  '4xx': 'The request failed (error envelope)',
  '5xx': 'The node failed (error envelope)'
}

function responses(schema: Schema | undefined, docs: RouteDocs | undefined): Schema {
  const out: Record<string, Schema> = {}
  const declared = (schema?.response ?? {}) as Record<string, Schema>
  for (const [status, s] of Object.entries(declared)) {
    const key = status.toUpperCase()
    const mediaType = status.startsWith('2') && docs?.responseMediaType !== undefined ? docs.responseMediaType : 'application/json'
    const { description, ...rest } = s as Schema & { description?: string }
    out[key] = { description: description ?? STATUS_TEXT[status.toLowerCase()] ?? 'Answer', content: { [mediaType]: { schema: rest } } }
  }
  if (Object.keys(out).length === 0) out.default = { description: 'Answer (not described by a schema)' }
  return out
}

function operation(route: DocumentedRoute): Schema {
  const schema = route.schema
  const op: Schema = {}
  if (typeof schema?.summary === 'string') op.summary = schema.summary
  if (typeof schema?.description === 'string') op.description = schema.description
  if (Array.isArray(schema?.tags)) op.tags = schema.tags
  op.operationId = `${route.method}${openApiPath(route.url)
    .replace(/[{}]/g, '')
    .split(/[/_.-]/)
    .filter(Boolean)
    .map((p) => p[0]?.toUpperCase() + p.slice(1))
    .join('')}`
  const params = [...parameters(schema?.params as Schema | undefined, 'path'), ...parameters(schema?.querystring as Schema | undefined, 'query')]
  // Path parameters the route declares without a schema still belong in the document.
  for (const match of route.url.matchAll(/:([A-Za-z0-9_]+)/g)) {
    const name = match[1] as string
    if (!params.some((p) => p.name === name && p.in === 'path')) params.push({ name, in: 'path', required: true, schema: { type: 'string' } })
  }
  if (params.length > 0) op.parameters = params
  if (schema?.body !== undefined) {
    const body = schema.body as Schema
    const content: Record<string, Schema> = { 'application/json': { schema: body } }
    for (const mediaType of route.docs?.bodyMediaTypes ?? []) content[mediaType] = { schema: body }
    op.requestBody = { required: !(Array.isArray(body.type) && body.type.includes('null')), content }
  }
  op.responses = responses(schema, route.docs)
  if (route.docs?.public === true) op.security = []
  return op
}

/**
 * Builds an OpenAPI 3.1 document from routes' JSON Schemas: path and query parameters, request
 * bodies (with extra media types), responses by status (`4xx`/`5xx` as `4XX`/`5XX`), bearer
 * authentication unless a route is public.
 */
export function buildOpenApiDocument(info: OpenApiInfo, routes: readonly DocumentedRoute[], components: Readonly<Record<string, Schema>> = {}): Schema {
  const paths: Record<string, Record<string, Schema>> = {}
  for (const route of routes) {
    const path = openApiPath(route.url)
    paths[path] ??= {}
    ;(paths[path] as Record<string, Schema>)[route.method] = operation(route)
  }
  const sorted = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)))
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, ...(info.description === undefined ? {} : { description: info.description }) },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    security: [{ squidBearer: [] }],
    paths: sorted,
    components: {
      securitySchemes: {
        squidBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'sQuid identity token (compact JWS, EdDSA, audience qflow)' }
      },
      schemas: components
    }
  }
}
