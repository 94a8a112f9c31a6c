// How long the real Pulumi engine takes on this program, as ratios to a floor measured in the
// same run: `pulumi preview` of an empty TypeScript program (`export const x = 1`, the
// tsconfig `pulumi new typescript` writes) on the same CLI, backend and plugins.
//   - preview: a production stack (domain and acmeEmail only), nothing deployed;
//   - cold up: the dev stack on an empty engine (no state, no volumes), images present;
//   - no-op up: the same stack again, nothing to change.
// An up is what `pulumi up` does once confirmed: a preview, then the update (both through
// the Automation API, like every operation here, so the floor pays the same overhead).
// Where the time goes: the same preview with run-time type-checking (the program's tsconfig
// without noCheck), each provider plugin's start-up, and the program evaluation under mocks.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Bed } from "../test/live/bed";
import { Deployed, Engine, ROOT } from "../test/live/engine";
import { run } from "../test/live/proc";

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function seconds<T>(f: () => Promise<T>): Promise<{ s: number; value: T }> {
    const t0 = performance.now();
    const value = await f();
    return { s: (performance.now() - t0) / 1000, value };
}

/** An empty TypeScript Pulumi program, as `pulumi new typescript` lays it out. */
function floorProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bench-floor-"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: floor\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    fs.writeFileSync(path.join(dir, "index.ts"), "export const x = 1;\n");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "floor", main: "index.ts" }));
    const compilerOptions = { strict: true, outDir: "bin", target: "es2020", module: "commonjs", moduleResolution: "node", sourceMap: true, experimentalDecorators: true, pretty: true, noFallthroughCasesInSwitch: true, noImplicitReturns: true, forceConsistentCasingInFileNames: true };
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["index.ts"] }, null, 2));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

/** Starts the plugin and resolves when it prints its port (then ends it). */
function pluginStartup(binary: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const t0 = performance.now();
        const child = spawn(binary, [], { stdio: ["ignore", "pipe", "ignore"] });
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        child.stdout.once("data", () => {
            const s = (performance.now() - t0) / 1000;
            clearTimeout(timer);
            child.kill("SIGTERM");
            resolve(s);
        });
        child.once("error", reject);
        child.once("exit", () => clearTimeout(timer));
    });
}

export interface EngineSpeed {
    runs: number;
    floorPreviewS: number;
    previewS: number;
    previewTypeCheckedS: number;
    coldUpS: number;
    noopUpS: number;
    ratios: { preview: number; previewTypeChecked: number; coldUp: number; noopUp: number };
    pluginStartupS: Record<string, number>;
    /** The cold up's update, by step (seconds from start to outputs, as the engine reported them). */
    coldSteps: Record<string, number>;
}

/**
 * Measures the engine (see the header) and leaves the dev stack deployed with `devConfig`:
 * returns what its cold up reported, for the rest of the benchmark.
 */
export async function measureEngine(engine: Engine, bed: Bed, devConfig: Record<string, unknown>, runs: number, log: (line: string) => void): Promise<{ speed: EngineSpeed; deployed: Deployed }> {
    const floorDir = floorProject();
    const prodName = `${bed.prefix}-prod`;
    try {
        const floor = await engine.stack("floor", floorDir);
        const prod = await engine.stack(prodName);
        await prod.configure({ domain: "registry.example.com", acmeEmail: "ops@example.com" }, () => false);
        const floorS: number[] = [];
        const previewS: number[] = [];
        const checkedS: number[] = [];
        // Interleaved, so that a busy moment does not land on one side only.
        for (let i = 0; i < runs; i++) {
            floorS.push((await seconds(() => floor.preview())).s);
            previewS.push((await seconds(() => prod.preview())).s);
            checkedS.push((await seconds(() => prod.preview({ env: { PULUMI_NODEJS_TRANSPILE_ONLY: "false" } }))).s);
        }
        await prod.remove();
        log(`engine: preview floor ${round(median(floorS))} s, ours ${round(median(previewS))} s (${round(median(checkedS))} s type-checked)`);

        // Cold: no state, no volumes; images present.
        const dev = await bed.configure(devConfig);
        const cold = await seconds(async () => {
            await dev.preview();
            return dev.up();
        });
        bed.steps = cold.value.steps;
        const noopS: number[] = [];
        for (let i = 0; i < runs; i++) {
            noopS.push(
                (
                    await seconds(async () => {
                        await dev.preview();
                        return dev.up();
                    })
                ).s,
            );
        }
        log(`engine: cold up ${round(cold.s)} s, no-op up ${round(median(noopS))} s`);

        const pluginStartupS: Record<string, number> = {};
        for (const p of ["pulumi-resource-docker", "pulumi-resource-command", "pulumi-resource-random"]) {
            const which = await run("sh", ["-c", `command -v ${p}`]);
            if (which.code === 0) pluginStartupS[p] = round(median([await pluginStartup(which.stdout.trim()), await pluginStartup(which.stdout.trim())]));
        }
        const floorMedian = median(floorS);
        const coldSteps: Record<string, number> = {};
        for (const s of cold.value.steps) if (s.ms !== undefined) coldSteps[s.name] = round(s.ms / 1000);
        const speed: EngineSpeed = {
            runs,
            floorPreviewS: round(floorMedian),
            previewS: round(median(previewS)),
            previewTypeCheckedS: round(median(checkedS)),
            coldUpS: round(cold.s),
            noopUpS: round(median(noopS)),
            ratios: {
                preview: round(median(previewS) / floorMedian),
                previewTypeChecked: round(median(checkedS) / floorMedian),
                coldUp: round(cold.s / floorMedian),
                noopUp: round(median(noopS) / floorMedian),
            },
            pluginStartupS,
            coldSteps,
        };
        return { speed, deployed: cold.value };
    } finally {
        fs.rmSync(floorDir, { recursive: true, force: true });
    }
}
