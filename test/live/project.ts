// A copy of this project in a temporary directory, as a user's checkout or a pull request's
// would be: the program's files, its Pulumi.yaml and stack files, the installed node_modules
// (linked, not copied). Tests that edit the program or write stack files work there.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT } from "./engine";

/** What a checkout of the project holds that the program needs. */
const PROGRAM_FILES = [
    "index.ts",
    "stackConfig.ts",
    "components",
    "configs",
    "settings",
    "Pulumi.yaml",
    "Pulumi.dev.yaml",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.pulumi.json",
];

export function copyProject(extra: string[] = []): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bed-project-"));
    for (const f of [...PROGRAM_FILES, ...extra]) {
        if (fs.existsSync(path.join(ROOT, f))) fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}
