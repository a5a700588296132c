#!/usr/bin/env node
// Executable entry of the `multirobust` command (package.json "bin").
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
