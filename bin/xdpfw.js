#!/usr/bin/env node
import { exitQuietlyOnEpipe, main } from '../dist/bundle/xdpfw.js';

exitQuietlyOnEpipe(process.stdout, (code) => process.exit(code));
exitQuietlyOnEpipe(process.stderr, (code) => process.exit(code));
process.exitCode = await main(process.argv, { stdout: process.stdout, stderr: process.stderr });
