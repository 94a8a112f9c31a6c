// /etc/hosts lines for the tests (the Docker daemon resolves registry names through it). Test
// files run in parallel, so every edit happens under one lock: a directory made atomically,
// which test/run.sh clears if a killed run left it.
import * as fs from "node:fs";

export const HOSTS_FILE = "/etc/hosts";
export const HOSTS_LOCK = "/run/registry-bed-hosts.lock";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `f` holding the hosts lock (waits up to 10 minutes for it). */
export async function withHostsLock<T>(f: () => Promise<T> | T): Promise<T> {
    const deadline = Date.now() + 600_000;
    for (;;) {
        try {
            fs.mkdirSync(HOSTS_LOCK);
            break;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
            if (Date.now() > deadline)
                throw new Error(`${HOSTS_LOCK} is held for over 10 minutes (a killed run? test/run.sh clears it)`, { cause: e });
            await sleep(100);
        }
    }
    try {
        return await f();
    } finally {
        fs.rmdirSync(HOSTS_LOCK);
    }
}

/** Appends `line` unless present. Call under the lock. */
export function addHostsLine(line: string): void {
    const hosts = fs.readFileSync(HOSTS_FILE, "utf8");
    if (!hosts.split("\n").includes(line)) fs.appendFileSync(HOSTS_FILE, `${hosts.endsWith("\n") || hosts === "" ? "" : "\n"}${line}\n`);
}

/** Removes every line equal to `line`. Call under the lock. */
export function removeHostsLine(line: string): void {
    const lines = fs.readFileSync(HOSTS_FILE, "utf8").split("\n");
    const kept = lines.filter((l) => l !== line);
    if (kept.length === lines.length) return;
    // Replaced whole, by a rename: the Docker daemon may resolve a name of another test file
    // at this very moment, and must never read a half-written file.
    const tmp = `${HOSTS_FILE}.registry-bed.tmp`;
    fs.writeFileSync(tmp, kept.join("\n"), { mode: fs.statSync(HOSTS_FILE).mode });
    try {
        fs.renameSync(tmp, HOSTS_FILE);
    } catch {
        // A bind-mounted /etc/hosts (inside a container) cannot be replaced, only rewritten.
        fs.rmSync(tmp, { force: true });
        fs.writeFileSync(HOSTS_FILE, kept.join("\n"));
    }
}
