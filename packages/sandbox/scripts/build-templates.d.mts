/** Template sources: every `.ts` in examples/templates and examples/templates/hostile, minus the shared abort. */
export function templateSources(): Promise<string[]>
/** Compiles each template that is missing or older than its sources into `outDir` (default dist/templates), writing its manifest beside it. */
export function buildTemplates(outDir?: string): Promise<string[]>
