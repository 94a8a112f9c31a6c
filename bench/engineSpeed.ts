// How long the real Pulumi engine takes on this program, as ratios to a floor measured in the
// same run: `pulumi preview` of an empty TypeScript program (`export const x = 1`, the
// tsconfig `pulumi new typescript` writes) on the same CLI, backend and plugins.
//   - preview: a production stack (domain and acmeEmail only), nothing deployed;
//   - cold up: the dev stack on an empty engine (no state, no volumes), images present;
//   - no-op up: the same stack again, nothing to change.
// An up is measured two ways: the update alone (the Automation API's `stack.up()`, i.e.
// `pulumi up --yes --skip-preview`), and with the preview `pulumi up` shows before it asks.
// Every operation goes through the Automation API, so the floor pays the same overhead.
// Where the time goes: the same preview with the TypeScript compiler transpiling instead of swc,
// and with run-time type-checking (the program as it ran before: ts-node and tsconfig.json),
// each provider plugin's start-up, and the program evaluation under mocks.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Bed } from "../test/live/bed";
import { Deployed, Engine, ROOT } from "../test/live/engine";
import { stackConfigFile } from "../stackConfig";
import { run } from "../test/live/proc";
import { copyProject } from "../test/live/project";

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
    const compilerOptions = {
        strict: true,
        outDir: "bin",
        target: "es2020",
        module: "commonjs",
        moduleResolution: "node",
        sourceMap: true,
        experimentalDecorators: true,
        pretty: true,
        noFallthroughCasesInSwitch: true,
        noImplicitReturns: true,
        forceConsistentCasingInFileNames: true,
    };
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
    previewTranspiledByTscS: number;
    /** The update alone (`pulumi up --yes --skip-preview`). */
    coldUpS: number;
    noopUpS: number;
    /** A preview, then the update (what `pulumi up` does once confirmed). */
    coldUpWithPreviewS: number;
    noopUpWithPreviewS: number;
    ratios: {
        preview: number;
        previewTypeChecked: number;
        previewTranspiledByTsc: number;
        coldUp: number;
        noopUp: number;
        coldUpWithPreview: number;
        noopUpWithPreview: number;
    };
    pluginStartupS: Record<string, number>;
    /** The cold up's update, by step (seconds from start to outputs, as the engine reported them). */
    coldSteps: Record<string, number>;
}

/**
 * Measures the engine (see the header) and leaves the dev stack deployed with `devConfig`:
 * returns what its cold up reported, for the rest of the benchmark.
 */
export async function measureEngine(
    engine: Engine,
    bed: Bed,
    devConfig: Record<string, unknown>,
    runs: number,
    log: (line: string) => void,
): Promise<{ speed: EngineSpeed; deployed: Deployed }> {
    const floorDir = floorProject();
    const prodName = `${bed.prefix}-prod`;
    // The same program, run as it was before: type-checked by ts-node (no runtime options), and
    // transpile-only but by the TypeScript compiler (tsconfig without swc).
    const checkedDir = copyProject();
    const tscDir = copyProject();
    try {
        const floor = await engine.stack("floor", floorDir);
        const prod = await engine.stack(prodName);
        await prod.configure({ domain: "registry.example.com", acmeEmail: "ops@example.com" }, () => false);
        for (const dir of [checkedDir, tscDir])
            fs.copyFileSync(path.join(ROOT, stackConfigFile(prodName)), path.join(dir, stackConfigFile(prodName)));
        fs.writeFileSync(
            path.join(checkedDir, "Pulumi.yaml"),
            fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8").replace(/^ {4}tsconfig: .*\n/m, ""),
        );
        const tsconfig = JSON.parse(
            fs.readFileSync(path.join(ROOT, "tsconfig.pulumi.json"), "utf8").replace(/^\s*\/\/.*$/gm, ""),
        ) as Record<string, unknown>;
        delete tsconfig["ts-node"];
        fs.writeFileSync(path.join(tscDir, "tsconfig.pulumi.json"), JSON.stringify(tsconfig));
        const checked = await engine.select(prodName, checkedDir);
        const tsc = await engine.select(prodName, tscDir);
        const floorS: number[] = [];
        const previewS: number[] = [];
        const checkedS: number[] = [];
        const tscS: number[] = [];
        // Interleaved, so that a busy moment does not land on one side only.
        for (let i = 0; i < runs; i++) {
            floorS.push((await seconds(() => floor.preview())).s);
            previewS.push((await seconds(() => prod.preview())).s);
            tscS.push((await seconds(() => tsc.preview())).s);
            checkedS.push((await seconds(() => checked.preview())).s);
        }
        await prod.remove();
        log(
            `engine: preview floor ${round(median(floorS))} s, ours ${round(median(previewS))} s (${round(median(tscS))} s transpiled by tsc, ${round(median(checkedS))} s type-checked)`,
        );

        // Cold: no state, no volumes; images present.
        const dev = await bed.configure(devConfig);
        const coldPreview = await seconds(() => dev.preview());
        const cold = await seconds(() => dev.up());
        bed.steps = cold.value.steps;
        const noopPreviewS: number[] = [];
        const noopS: number[] = [];
        for (let i = 0; i < runs; i++) {
            noopPreviewS.push((await seconds(() => dev.preview())).s);
            noopS.push((await seconds(() => dev.up())).s);
        }
        const noopWithPreview = noopPreviewS.map((p, i) => p + noopS[i]);
        log(
            `engine: cold up ${round(cold.s)} s (+ preview ${round(coldPreview.s)} s), no-op up ${round(median(noopS))} s (with preview ${round(median(noopWithPreview))} s)`,
        );

        const pluginStartupS: Record<string, number> = {};
        for (const p of ["pulumi-resource-docker", "pulumi-resource-command", "pulumi-resource-random"]) {
            const which = await run("sh", ["-c", `command -v ${p}`]);
            if (which.code === 0)
                pluginStartupS[p] = round(median([await pluginStartup(which.stdout.trim()), await pluginStartup(which.stdout.trim())]));
        }
        const floorMedian = median(floorS);
        const coldSteps: Record<string, number> = {};
        for (const s of cold.value.steps) if (s.ms !== undefined) coldSteps[s.name] = round(s.ms / 1000);
        const speed: EngineSpeed = {
            runs,
            floorPreviewS: round(floorMedian),
            previewS: round(median(previewS)),
            previewTypeCheckedS: round(median(checkedS)),
            previewTranspiledByTscS: round(median(tscS)),
            coldUpS: round(cold.s),
            noopUpS: round(median(noopS)),
            coldUpWithPreviewS: round(coldPreview.s + cold.s),
            noopUpWithPreviewS: round(median(noopWithPreview)),
            ratios: {
                preview: round(median(previewS) / floorMedian),
                previewTypeChecked: round(median(checkedS) / floorMedian),
                previewTranspiledByTsc: round(median(tscS) / floorMedian),
                coldUp: round(cold.s / floorMedian),
                noopUp: round(median(noopS) / floorMedian),
                coldUpWithPreview: round((coldPreview.s + cold.s) / floorMedian),
                noopUpWithPreview: round(median(noopWithPreview) / floorMedian),
            },
            pluginStartupS,
            coldSteps,
        };
        return { speed, deployed: cold.value };
    } finally {
        for (const dir of [floorDir, checkedDir, tscDir]) fs.rmSync(dir, { recursive: true, force: true });
    }
}
