// Every fact written once: a path, a name or a port that the program uses is defined by one
// constant, and templates get it through their view. Re-typing one anywhere (a template, a
// component, another module) fails here.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { ROOT } from "../harness/program";

/** The modules that define facts, relative to the project's root. */
const MODULES = [
    "configs/auth",
    "configs/certbot",
    "configs/certificates",
    "configs/gc",
    "configs/htpasswd",
    "configs/install",
    "configs/nginx",
    "configs/pebble",
    "configs/ports",
    "configs/redis",
    "configs/registry",
    "settings/defaults",
    "settings/pebbleAddress",
];

/** The program's sources: TypeScript and templates. */
function sources(): { file: string; text: string }[] {
    const dirs = ["settings", "configs", "components", path.join("configs", "templates")];
    const files = [
        path.join(ROOT, "index.ts"),
        path.join(ROOT, "stackConfig.ts"),
        ...dirs.flatMap((d) => fs.readdirSync(path.join(ROOT, d)).map((f) => path.join(ROOT, d, f))),
    ];
    return files
        .filter((f) => fs.statSync(f).isFile())
        .map((file) => ({ file: path.relative(ROOT, file), text: fs.readFileSync(file, "utf8") }));
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

test("every path, URL and file name constant is written once: where it is defined", async () => {
    const files = sources();
    const constants = new Map<string, string>();
    /** How many times a constant's own definition writes its value: once, or never (built from others). */
    const written = new Map<string, number>();
    for (const m of MODULES) {
        const file = path.join(ROOT, `${m}.ts`);
        const exports = (await import(file)) as Record<string, unknown>;
        const source = fs.readFileSync(file, "utf8");
        for (const [name, value] of Object.entries(exports)) {
            // PROJECT is also the name that comments and labels say.
            if (name === "PROJECT" || typeof value !== "string" || !/^(\/|https?:\/\/|\$)|^[a-z]+(-[a-z]+)+$/.test(value)) continue;
            const definition = new RegExp(`export const ${name}\\b[^\\n]*`).exec(source)?.[0] ?? "";
            constants.set(name, value);
            written.set(name, definition.includes(JSON.stringify(value)) ? 1 : 0);
        }
    }
    assert.ok(constants.size >= 30, `constants checked: ${[...constants.keys()].join(", ")}`);
    for (const [name, value] of constants) {
        // The literal, not as the start of a longer name ("/etc/nginx/registry" in "/etc/nginx/registry-control").
        const literal = new RegExp(`${escape(value)}(?![\\w.-])`, "g");
        const found = files.flatMap((f) => (f.text.match(literal) ?? []).map(() => f.file));
        assert.equal(found.length, written.get(name), `${name} (${value}) is written ${found.length} times: ${found.join(", ")}`);
    }
});

test("templates take ports from the view, and the test bed's ports live in one place", () => {
    for (const { file, text } of sources().filter((f) => f.file.endsWith(".mustache"))) {
        const code = text
            .split("\n")
            .filter((l) => !/^\s*#/.test(l))
            .join("\n");
        assert.doesNotMatch(code, /\b(80|443|5000|5001|8081|14000|15000)\b/, `${file} types a port`);
    }
    const testFiles = ["test/live", "test/unit", "test/nginx", "bench"]
        .flatMap((d) => fs.readdirSync(path.join(ROOT, d)).map((f) => path.join(d, f)))
        .filter((f) => fs.statSync(path.join(ROOT, f)).isFile());
    const withBedPorts = testFiles.filter(
        (f) => /\b(18080|18443)\b/.test(fs.readFileSync(path.join(ROOT, f), "utf8")) && !f.endsWith("facts.test.ts"),
    );
    assert.deepEqual(withBedPorts, ["test/live/bed.ts"]);
});
