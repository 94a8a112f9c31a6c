// Pushing and pulling OCI layouts with skopeo, timed, for the benchmarks (bench.ts, hosts.ts);
// and the two statistics they report.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../test/live/proc";

export interface Target {
    /** host[:port] of the registry. */
    host: string;
    tlsVerify: boolean;
}

export const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
export const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** How long a skopeo command took, and the CPU it used (user + system). */
export interface Timing {
    seconds: number;
    clientCpuS: number;
}

/**
 * Runs skopeo under bash, whose `times` reports its children's CPU (the last line of stderr,
 * "0m1.234s 0m0.567s"); it throws with skopeo's message when it fails.
 */
async function skopeo(args: string[], authfile: string): Promise<Timing> {
    const t0 = performance.now();
    const argv = ["--command-timeout", "900s", ...args.slice(0, 1), "--authfile", authfile, ...args.slice(1)];
    const r = await run("bash", ["-c", 'skopeo "$@"; rc=$?; times >&2; exit $rc', "skopeo", ...argv], { timeoutMs: 900_000 });
    const seconds = (performance.now() - t0) / 1000;
    const lines = r.stderr.trim().split("\n");
    const children = lines.pop() ?? "";
    lines.pop(); // the shell's own times
    if (r.code !== 0) throw new Error(`skopeo ${args[0]} failed: ${lines.join("\n").trim()}`);
    const parts = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    if (parts.length !== 2) throw new Error(`skopeo ${args[0]}: no CPU times in ${JSON.stringify(children)}`);
    return { seconds, clientCpuS: parts[0] + parts[1] };
}

/** Pushes the OCI layout's `tag` to `repo:tag`. */
export async function push(target: Target, layout: string, tag: string, repo: string, authfile: string): Promise<Timing> {
    return skopeo(
        ["copy", "--quiet", `--dest-tls-verify=${target.tlsVerify}`, `oci:${layout}:${tag}`, `docker://${target.host}/${repo}:${tag}`],
        authfile,
    );
}

/** Pulls `repo:tag` (into a directory, removed afterwards). */
export async function pull(target: Target, tag: string, repo: string, authfile: string): Promise<Timing> {
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bench-pull-"));
    try {
        return await skopeo(
            ["copy", "--quiet", `--src-tls-verify=${target.tlsVerify}`, `docker://${target.host}/${repo}:${tag}`, `dir:${dest}`],
            authfile,
        );
    } finally {
        fs.rmSync(dest, { recursive: true, force: true });
    }
}
