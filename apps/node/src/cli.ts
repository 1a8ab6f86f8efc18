#!/usr/bin/env -S node --max-semi-space-size=32
/**
 * The `qflow` executable: runs the command line over the process's streams and exits with its
 * code (0 ok, 1 invalid input, 2 usage error).
 *
 * @packageDocumentation
 */
import { processIo } from './io.js'
import { runCli } from './program.js'

process.exitCode = await runCli(process.argv.slice(2), processIo())
