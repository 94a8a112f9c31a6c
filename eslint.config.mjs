// ESLint (typescript-eslint) for every TypeScript file of the project: `npm run lint`, part
// of `npm test`, passes with zero warnings. Formatting is Prettier's (.prettierrc.json).
//
// The program is in layers, each importing only from those below it: settings/ (the pure
// parsing of the settings), then configs/ (what the containers are given, rendered from them),
// then components/ (the Pulumi resources), then index.ts and stackConfig.ts (the stack's
// program) and plugin/ (the component package's entry). import-x checks both that (no-restricted-paths) and that no modules import each
// other in a circle (no-cycle). no-cycle skips `import type`, so test/unit/layers.test.ts walks
// the same graph with type imports included.
import path from "node:path";
import { fileURLToPath } from "node:url";
import js from "@eslint/js";
import importX, { createNodeResolver } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

const ROOT = path.dirname(fileURLToPath(import.meta.url));
/** Above a layer: everything that may import it, which it must never import back. */
const ABOVE_COMPONENTS = ["./index.ts", "./stackConfig.ts", "./plugin", "./test", "./bench", "./examples"];
const ABOVE_CONFIGS = ["./components", ...ABOVE_COMPONENTS];
const ABOVE_SETTINGS = ["./configs", ...ABOVE_CONFIGS];

export default tseslint.config(
    { ignores: ["node_modules/", "build/", "bench/results/"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        languageOptions: {
            globals: {
                require: "readonly",
                process: "readonly",
                Buffer: "readonly",
                __dirname: "readonly",
                console: "readonly",
                setTimeout: "readonly",
                clearTimeout: "readonly",
                setInterval: "readonly",
                clearInterval: "readonly",
                setImmediate: "readonly",
                performance: "readonly",
                URL: "readonly",
            },
        },
        rules: {
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
            eqeqeq: ["error", "always"],
            "no-console": "off",
        },
    },
    {
        files: ["**/*.ts"],
        plugins: { "import-x": importX },
        settings: {
            ...importX.flatConfigs.typescript.settings,
            // Relative imports name .ts files without their extension, as the program's own
            // loader (ts-node, tsx) resolves them; packages resolve from node_modules.
            "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js", ".json", ".node"] })],
        },
        rules: {
            "import-x/no-cycle": ["error", { ignoreExternal: true }],
            "import-x/no-restricted-paths": [
                "error",
                {
                    basePath: ROOT,
                    zones: [
                        {
                            target: "./settings",
                            from: ABOVE_SETTINGS,
                            message: "settings/ is the bottom layer: it imports only from settings/ (move the shared fact down into it).",
                        },
                        {
                            target: "./configs",
                            from: ABOVE_CONFIGS,
                            message: "configs/ imports only from configs/ and settings/ (move the shared fact down).",
                        },
                        {
                            target: "./components",
                            from: ABOVE_COMPONENTS,
                            message: "components/ imports only from components/, configs/ and settings/.",
                        },
                    ],
                },
            ],
        },
    },
    {
        // The settings are parsed the same way from stack config and from a program's args,
        // in unit tests without a deployment: no Pulumi, no files, no processes, no templates.
        files: ["settings/**/*.ts"],
        rules: {
            "no-restricted-imports": [
                "error",
                {
                    paths: ["fs", "node:fs", "fs/promises", "node:fs/promises", "child_process", "node:child_process", "mustache"].map(
                        (name) => ({
                            name,
                            message: "settings/ is pure: no I/O and no template rendering (configs/ renders, stackConfig.ts reads).",
                        }),
                    ),
                    patterns: [
                        { group: ["@pulumi/*"], message: "settings/ is free of Pulumi: components/ and stackConfig.ts speak to it." },
                    ],
                },
            ],
        },
    },
    {
        // Tests and the benchmark read mocked resource inputs and JSON results: arbitrary data.
        files: ["test/**/*.ts", "bench/**/*.ts"],
        rules: { "@typescript-eslint/no-explicit-any": "off" },
    },
);
