// What every benchmark program does around its measurements: a scratch directory, a log line
// prefix, a cleanup that also runs when it is interrupted (Ctrl-C, a timeout), and its results
// written as JSON and Markdown under BENCH_OUT.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Where benchmarks write their results. */
export const OUT = process.env.BENCH_OUT ?? path.join(__dirname, "results");

export interface BenchSession {
    /** A scratch directory, removed by cleanup. */
    work: string;
    log: (line: string) => void;
    /** `release` (what the benchmark deployed), then the scratch directory. */
    cleanup: () => Promise<void>;
}

/** A benchmark named `name` whose deployed parts `release` removes, on SIGINT and SIGTERM too. */
export function benchSession(name: string, release: () => Promise<void>): BenchSession {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `registry-bench-${name}-`));
    const log = (line: string) => process.stdout.write(`bench ${name}: ${line}\n`);
    const cleanup = async () => {
        try {
            await release();
        } finally {
            fs.rmSync(work, { recursive: true, force: true });
        }
    };
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
            log(`${signal}: cleaning up`);
            cleanup().finally(() => process.exit(130));
        });
    }
    return { work, log, cleanup };
}

/** Writes `<name>.json` and `<name>.md` under OUT and prints the Markdown. */
export function writeResults(name: string, results: Record<string, unknown>, markdown: (r: Record<string, unknown>) => string): void {
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify(results, null, 2));
    const md = markdown(results);
    fs.writeFileSync(path.join(OUT, `${name}.md`), md);
    process.stdout.write(`\n${md}`);
}
