/** Template sources: every `.ts` in examples/templates (and examples/templates/hostile if asked), minus the shared modules. */
export function templateSources(hostile?: boolean): Promise<string[]>
/** Compiles each template that is missing or older than its sources into `outDir` (default dist/templates), writing its manifest beside it. */
export function buildTemplates(outDir?: string, options?: { hostile?: boolean }): Promise<string[]>
