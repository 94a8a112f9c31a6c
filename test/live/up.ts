// One `pulumi up`, as its own process (the CLI runs the program in a separate language
// host too): loads the applier's state, runs the program against the Docker engine, saves
// the new state and the outputs. A failed resource fails the run, as in the engine: what
// was applied before it is kept in the state, its dependents are not applied.
import * as fs from "node:fs";
import { ProgramRun, runProgram } from "../harness/program";
import { ApplierSnapshot, DockerApplier } from "./applier";
import { seal, unseal } from "./sealed";

export interface UpRequest {
    /** `destroy` deletes everything in the state, newest first, through the stack's Docker host. */
    mode?: "up" | "destroy";
    label: string;
    stack: string;
    config: Record<string, unknown>;
    secretKeys: string[];
}

export interface UpResult {
    ok: boolean;
    errors: string[];
    actions: string[];
    outputs?: ProgramRun["outputs"];
    /** Wall time of each resource operation, in milliseconds, by logical name. */
    timings: Record<string, number>;
}

async function main(): Promise<number> {
    const key = Buffer.from(process.env.BED_KEY ?? "", "hex");
    const dir = process.env.BED_DIR ?? "";
    if (key.length !== 32 || !dir) throw new Error("up.ts is started by test/live/bed.ts (BED_KEY, BED_DIR)");
    const request = unseal<UpRequest>(`${dir}/request`, key);
    const applier = new DockerApplier(request.label, (line) => process.stderr.write(`  [bed ${request.label}] ${line}\n`));
    if (fs.existsSync(`${dir}/state`)) applier.restore(unseal<ApplierSnapshot>(`${dir}/state`, key));

    const unhandled: Error[] = [];
    process.on("unhandledRejection", (e) => unhandled.push(e instanceof Error ? e : new Error(String(e))));

    applier.beginRun();
    if (request.mode === "destroy") {
        await applier.endRun();
        seal(`${dir}/state`, key, applier.snapshot());
        seal(`${dir}/result`, key, { ok: true, errors: [], actions: applier.actions, timings: {} } satisfies UpResult);
        return 0;
    }
    let outputs: ProgramRun["outputs"] | undefined;
    let failure: Error | undefined;
    try {
        // A failed resource can leave its dependents waiting forever in the SDK: once a
        // failure is recorded and nothing is being applied any more, the run is over.
        let timer: NodeJS.Timeout | undefined;
        const settled = new Promise<never>((_, reject) => {
            // Not unref'd: with the SDK's promises left pending, this timer keeps the process alive.
            timer = setInterval(() => {
                if (applier.errors.length > 0 && applier.inFlight === 0) reject(applier.errors[0]);
            }, 500);
        });
        try {
            outputs = (await Promise.race([runProgram({ config: request.config, secretKeys: request.secretKeys, stack: request.stack, mocks: applier }), settled])).outputs;
        } finally {
            clearInterval(timer);
        }
    } catch (e) {
        failure = e instanceof Error ? e : new Error(String(e));
    }
    const errors = applier.errors.length > 0 ? applier.errors : failure ? [failure] : unhandled;
    if (errors.length === 0) await applier.endRun();
    const result: UpResult = { ok: errors.length === 0, errors: errors.map((e) => e.message), actions: applier.actions, outputs, timings: applier.timings };
    seal(`${dir}/state`, key, applier.snapshot());
    seal(`${dir}/result`, key, result);
    return result.ok ? 0 : 1;
}

main().then(
    (code) => process.exit(code),
    (e) => {
        process.stderr.write(`up.ts: ${e instanceof Error ? e.message : e}\n`);
        process.exit(2);
    },
);
