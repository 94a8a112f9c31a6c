// Child processes for the live tests: one runner that never logs its arguments or stdin
// (they may carry secrets), and the docker CLI on top of it.
import { spawn } from "node:child_process";

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs a process; stdin is written and closed. Killed after `timeoutMs` (default 5 min). */
export function run(
    cmd: string,
    args: string[],
    opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 300_000);
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

/** `docker <args>`; throws with docker's message unless `allowFail`. */
export async function docker(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): Promise<string> {
    const r = await run("docker", args, opts);
    if (r.code !== 0 && !opts.allowFail) throw new Error(`docker ${args[0]} ${args[1] ?? ""} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout.trim();
}

/** Waits (bounded) for Docker's health status of a container to become `want`. */
export async function healthBecomes(
    container: string,
    want: "healthy" | "unhealthy",
    maxMs = 75_000,
): Promise<{ status: string; output: string }> {
    const deadline = Date.now() + maxMs;
    let status = "";
    while (Date.now() < deadline) {
        status = await docker(["inspect", "--format", "{{.State.Health.Status}}", container]);
        if (status === want) break;
        await new Promise((r) => setTimeout(r, 1000));
    }
    const output = await docker(["inspect", "--format", "{{range .State.Health.Log}}{{.Output}}{{end}}", container]);
    return { status, output };
}

/**
 * A new image id for the same software, as a new tag or release upstream would bring:
 * `registry-test/retag:<tag>`, built FROM `image` with a label. The caller removes it.
 */
export async function newImageId(image: string, tag: string): Promise<string> {
    const ref = `registry-test/retag:${tag}`;
    await docker(["build", "--quiet", "--tag", ref, "-"], { input: `FROM ${image}\nLABEL registry-bed.retag="${tag}"\n` });
    return ref;
}
