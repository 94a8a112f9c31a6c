// Temporary directories a test process makes and removes when it exits, however its tests end.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const made: string[] = [];
process.on("exit", () => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A new directory under the system's temporary directory, removed when the process exits. */
export function tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return dir;
}
