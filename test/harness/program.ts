// Runs the real Pulumi program (index.ts) under pulumi.runtime.setMocks, in this process.
// The `Mocks` answer for every resource the program declares: the unit tests and the
// benchmark's timing of program evaluation pass a Recorder (test/harness/recorder.ts), which
// keeps each resource's inputs and options and answers with plausible state, so nothing
// reaches a Docker engine. The live tests do not come here: they drive the real engine
// (test/live/engine.ts).
// Each run loads the program afresh with its own stack config, as `pulumi up` would.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../settings/defaults";
import { stackConfigFile } from "../../stackConfig";
import { Recorder } from "./recorder";

export const ROOT = path.resolve(__dirname, "..", "..");
/** Pulumi's marker for a secret value in mocked inputs. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export interface ProgramRun {
    /** Stack outputs, resolved, with their secretness. */
    outputs: Record<string, { value: unknown; secret: boolean; known: boolean }>;
}

export interface RunOptions {
    /** Config values by key without the project prefix; objects are passed as JSON. */
    config: Record<string, unknown>;
    /** Keys (without prefix) or leaves (`users.ci.password`) stored as secrets. */
    secretKeys?: string[];
    stack?: string;
    preview?: boolean;
    mocks: pulumi.runtime.Mocks;
}

export function isSecretWrapper(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

/** Replaces Pulumi's secret wrappers with their values (the caller must not log them). */
export function unwrapSecrets(value: unknown): unknown {
    if (isSecretWrapper(value)) return unwrapSecrets(value.value);
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

function forgetProgram(): void {
    for (const id of Object.keys(require.cache)) {
        const rel = path.relative(ROOT, id);
        if (!rel.startsWith("..") && !rel.includes("node_modules") && !rel.startsWith("test")) delete require.cache[id];
    }
}

/** A stack config file whose `secretPaths` are encrypted (only the markers matter here). */
function stackFile(secretPaths: string[]): string {
    const config: Record<string, unknown> = {};
    for (const p of secretPaths) {
        const [key, ...rest] = p.split(".");
        let node = config as Record<string, unknown>;
        let leaf = `${PROJECT}:${key}`;
        for (const part of rest) {
            node = (node[leaf] ??= {}) as Record<string, unknown>;
            leaf = part;
        }
        node[leaf] = { secure: "v1:mock" };
    }
    return yaml.dump({ config });
}

/**
 * Every output's value, whether it is known (a preview leaves computed values unknown) and
 * secret, through public SDK APIs only: `apply` records values as they resolve, and
 * `runtime.disconnect` returns once every registration (and so every mocked resource) is done.
 */
export async function settleOutputs(outputs: Record<string, unknown>): Promise<ProgramRun["outputs"]> {
    const values = new Map<string, unknown>();
    const entries = Object.entries(outputs).filter((e): e is [string, pulumi.Output<unknown>] => pulumi.Output.isInstance(e[1]));
    for (const [key, output] of entries) output.apply((v) => values.set(key, v));
    await pulumi.runtime.disconnect();
    await new Promise((r) => setImmediate(r));
    const settled: ProgramRun["outputs"] = {};
    for (const [key, output] of entries)
        settled[key] = { value: values.get(key), known: values.has(key), secret: await pulumi.isSecret(output) };
    return settled;
}

/** Loads and runs index.ts with the given config; resolves when every output has settled. */
export async function runProgram(opts: RunOptions): Promise<ProgramRun> {
    const stack = opts.stack ?? "test";
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.config)) {
        if (v === undefined) continue;
        config[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    }
    pulumi.runtime.setAllConfig(
        config,
        (opts.secretKeys ?? []).map((k) => `${PROJECT}:${k}`),
    );
    await pulumi.runtime.setMocks(opts.mocks, PROJECT, stack, opts.preview ?? false);
    if (opts.mocks instanceof Recorder) opts.mocks.recordOptions();
    forgetProgram();
    // As under the CLI, the program runs in a directory holding the stack's config file, which
    // records which values are encrypted (`secure:`).
    const cwd = process.cwd();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-unit-stack-"));
    let program: Record<string, unknown>;
    try {
        fs.writeFileSync(path.join(dir, stackConfigFile(stack)), stackFile(opts.secretKeys ?? []));
        process.chdir(dir);
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded afresh, as each pulumi run does
        program = require(path.join(ROOT, "index.ts")) as Record<string, unknown>;
    } finally {
        process.chdir(cwd);
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return { outputs: await settleOutputs(program) };
}
