#!/usr/bin/env node
// kvmnet-cni: the CNI plugin's executable (see main.ts). Installed as `kvmnet-cni` in a CNI plugin
// directory (/opt/cni/bin), it is found by the configuration's "type".
import { main } from './main.js'

process.exitCode = await main(process.env, process.stdin, process.stdout, process.stderr)
