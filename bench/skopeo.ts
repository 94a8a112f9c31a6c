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

/** skopeo's own limit on a command; the process is killed only if it overruns that. */
const COMMAND_TIMEOUT_S = 900;
/** A line of bash's `times`: user and system CPU, e.g. "0m1.234s 0m0.567s". */
const TIMES_LINE = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/;

/**
 * Runs skopeo under bash, whose `times` then reports the shell's own CPU and its children's
 * (skopeo's); it throws with skopeo's message when it fails.
 */
async function skopeo(args: string[], authfile: string): Promise<Timing> {
    const t0 = performance.now();
    const argv = ["--command-timeout", `${COMMAND_TIMEOUT_S}s`, ...args.slice(0, 1), "--authfile", authfile, ...args.slice(1)];
    const r = await run("bash", ["-c", 'skopeo "$@"; rc=$?; times >&2; exit $rc', "skopeo", ...argv], {
        timeoutMs: (COMMAND_TIMEOUT_S + 30) * 1000,
    });
    const seconds = (performance.now() - t0) / 1000;
    const lines = r.stderr.trim().split("\n");
    if (r.code !== 0) throw new Error(`skopeo ${args[0]} failed: ${lines.filter((l) => !TIMES_LINE.test(l)).join("\n")}`);
    const children = lines
        .filter((l) => TIMES_LINE.test(l))
        .at(-1)
        ?.match(TIMES_LINE);
    if (!children) throw new Error(`skopeo ${args[0]}: no CPU times from bash in ${JSON.stringify(r.stderr.slice(-200))}`);
    const [, um, us, sm, ss] = children.map(Number);
    return { seconds, clientCpuS: um * 60 + us + sm * 60 + ss };
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
