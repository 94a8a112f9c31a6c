// The program's layers, and no import circle anywhere in the project. settings/ (pure parsing)
// is imported by configs/ (rendering), both by components/ (the resources), and all of them by
// index.ts and stackConfig.ts; the tests, the benchmark and the examples sit on top. ESLint
// checks the same (eslint.config.mjs), but its no-cycle skips `import type`, and a circle of
// types is still a circle: this walks every import, type-only ones included.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { ROOT } from "../harness/program";

const SKIP = new Set(["node_modules", "build", ".git", path.join("bench", "results")]);

/** Every TypeScript file of the project, relative to its root. */
function projectFiles(dir = ""): string[] {
    return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
        const rel = path.join(dir, e.name);
        if (SKIP.has(rel) || SKIP.has(e.name)) return [];
        if (e.isDirectory()) return projectFiles(rel);
        return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [rel] : [];
    });
}

/** The module specifiers a file names: imports and re-exports (type-only too), import() and require(). */
function specifiers(file: string): string[] {
    const source = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
    const found: string[] = [];
    const literal = (node: ts.Node | undefined) => {
        if (node && ts.isStringLiteralLike(node)) found.push(node.text);
    };
    const visit = (node: ts.Node): void => {
        if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) literal(node.moduleSpecifier);
        else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
            literal(node.moduleReference.expression);
        else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) literal(node.argument.literal);
        else if (
            ts.isCallExpression(node) &&
            (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
                (ts.isIdentifier(node.expression) && node.expression.text === "require"))
        )
            literal(node.arguments[0]);
        ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
}

/** The project file a relative specifier names, or undefined (a package, or not a .ts file). */
function resolve(from: string, specifier: string, files: Set<string>): string | undefined {
    if (!specifier.startsWith(".")) return undefined;
    const base = path.join(path.dirname(from), specifier);
    return [base, `${base}.ts`, path.join(base, "index.ts")].find((f) => files.has(f));
}

/** File → the project files it imports. */
function importGraph(): Map<string, Set<string>> {
    const files = projectFiles();
    const known = new Set(files);
    return new Map(files.map((f) => [f, new Set(specifiers(f).flatMap((s) => resolve(f, s, known) ?? []))]));
}

/** One circle per strongly connected component (Tarjan), as the files in import order, back to the first. */
function importCycles(graph: Map<string, Set<string>>): string[][] {
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const components: string[][] = [];
    const connect = (v: string): void => {
        index.set(v, index.size);
        low.set(v, index.get(v)!);
        stack.push(v);
        onStack.add(v);
        for (const w of graph.get(v) ?? []) {
            if (!index.has(w)) {
                connect(w);
                low.set(v, Math.min(low.get(v)!, low.get(w)!));
            } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        }
        if (low.get(v) === index.get(v)) {
            const component: string[] = [];
            let w: string;
            do {
                w = stack.pop()!;
                onStack.delete(w);
                component.push(w);
            } while (w !== v);
            if (component.length > 1 || graph.get(v)?.has(v)) components.push(component);
        }
    };
    for (const v of graph.keys()) if (!index.has(v)) connect(v);
    // Within a component every file reaches every other: the shortest way back to the first is a circle.
    return components.map((component) => {
        const members = new Set(component);
        const start = [...component].sort()[0];
        const previous = new Map<string, string>();
        const queue = [start];
        for (let i = 0; i < queue.length; i++) {
            for (const w of graph.get(queue[i]) ?? []) {
                if (w === start) {
                    const circle = [queue[i]];
                    while (circle[0] !== start) circle.unshift(previous.get(circle[0])!);
                    return [...circle, start];
                }
                if (members.has(w) && !previous.has(w) && w !== start) {
                    previous.set(w, queue[i]);
                    queue.push(w);
                }
            }
        }
        return [start, start];
    });
}

/** A file's layer: an import may only go to the same layer or one below. */
function layer(file: string): { rank: number; name: string } {
    const top = file.split(path.sep)[0];
    if (top === "settings") return { rank: 0, name: "settings/" };
    if (top === "configs") return { rank: 1, name: "configs/" };
    if (top === "components") return { rank: 2, name: "components/" };
    if (file === "index.ts" || file === "stackConfig.ts") return { rank: 3, name: "the program (index.ts, stackConfig.ts)" };
    if (top === "plugin") return { rank: 3, name: "the component package (plugin/)" };
    return { rank: 4, name: "tests, benchmark and examples" };
}

test("the cycle finder names a circle of imports, and only a circle", () => {
    const graph = (edges: [string, string][]) => {
        const g = new Map<string, Set<string>>();
        for (const [a, b] of edges) {
            g.set(a, (g.get(a) ?? new Set()).add(b));
            if (!g.has(b)) g.set(b, new Set());
        }
        return g;
    };
    assert.deepEqual(
        importCycles(
            graph([
                ["a", "b"],
                ["b", "c"],
                ["a", "c"],
            ]),
        ),
        [],
    );
    assert.deepEqual(
        importCycles(
            graph([
                ["x", "a"],
                ["a", "b"],
                ["b", "c"],
                ["c", "a"],
            ]),
        ),
        [["a", "b", "c", "a"]],
    );
    assert.deepEqual(importCycles(graph([["s", "s"]])), [["s", "s"]]);
});

test("no module of the project imports itself back, type-only imports included", () => {
    const graph = importGraph();
    // The walk sees the program: settings/parse.ts imports the types, stackConfig.ts the parser.
    assert.ok(
        graph.get(path.join("settings", "parse.ts"))?.has(path.join("settings", "types.ts")),
        "settings/parse.ts → settings/types.ts",
    );
    assert.ok(graph.get("stackConfig.ts")?.has(path.join("settings", "parse.ts")), "stackConfig.ts → settings/parse.ts");
    const cycles = importCycles(graph);
    assert.deepEqual(
        cycles.map((c) => c.join(" → ")),
        [],
        `import cycles (an \`import type\` counts; move what both need into a file below them):\n${cycles.map((c) => `  ${c.join(" → ")}`).join("\n")}`,
    );
});

test("imports go down the layers only: settings/ ← configs/ ← components/ ← index.ts, stackConfig.ts", () => {
    const upward: string[] = [];
    for (const [file, imports] of importGraph()) {
        for (const imported of imports) {
            if (layer(imported).rank > layer(file).rank)
                upward.push(`${file} (${layer(file).name}) imports ${imported} (${layer(imported).name})`);
        }
    }
    assert.deepEqual(upward, [], `imports from a higher layer (move the shared fact down):\n  ${upward.join("\n  ")}`);
});

test("settings/types.ts, where Settings is, imports nothing from its folder", () => {
    const types = path.join("settings", "types.ts");
    const imports = [...(importGraph().get(types) ?? [])];
    assert.deepEqual(imports, [], `${types} imports ${imports.join(", ")}`);
});
