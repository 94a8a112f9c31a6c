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

/** Seconds a skopeo command took; it throws with skopeo's message when it fails. */
async function skopeo(args: string[], authfile: string): Promise<number> {
    const t0 = performance.now();
    const r = await run("skopeo", ["--command-timeout", "900s", ...args.slice(0, 1), "--authfile", authfile, ...args.slice(1)], {
        timeoutMs: 900_000,
    });
    if (r.code !== 0) throw new Error(`skopeo ${args[0]} failed: ${r.stderr.trim()}`);
    return (performance.now() - t0) / 1000;
}

/** Seconds to push the OCI layout's `tag` to `repo:tag`. */
export async function push(target: Target, layout: string, tag: string, repo: string, authfile: string): Promise<number> {
    return skopeo(
        ["copy", "--quiet", `--dest-tls-verify=${target.tlsVerify}`, `oci:${layout}:${tag}`, `docker://${target.host}/${repo}:${tag}`],
        authfile,
    );
}

/** Seconds to pull `repo:tag` (into a directory, removed afterwards). */
export async function pull(target: Target, tag: string, repo: string, authfile: string): Promise<number> {
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
