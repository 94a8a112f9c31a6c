// Reads this project's stack config into PrivateRegistryArgs, once: the values from the Pulumi
// runtime (defaults from Pulumi.yaml included), validated by the settings parser as stack
// config (problems name the keys as users type them, `private-registry:httpPort`, and a
// password or key stored in plain text in the stack file is refused), then typed for the
// component. Which values are encrypted comes from the stack's config file,
// `Pulumi.<stack>.yaml` in the project directory. Values are read raw, so a secret is never
// copied into a plain Output or echoed by an error message.
//
// It sits beside index.ts, above every folder, because it reads (the Pulumi runtime, the stack
// file) and speaks the component's types, while settings/ stays pure and configs/ and
// components/ know nothing of where their settings came from.
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import type { PrivateRegistryArgs } from "./components/privateRegistry";
import { CONFIG_KEYS, ConfigKey, DEFAULTS, PROJECT, qualified, RawConfig } from "./settings/defaults";
import { parseSettings, stackNaming } from "./settings/parse";
import { SecretPaths, secretPathsFromStackFile } from "./settings/secretPaths";

/** The stack config file Pulumi reads for `stack`, relative to the project directory. */
export function stackConfigFile(stack: string): string {
    return `Pulumi.${stack}.yaml`;
}

/**
 * Encrypted config paths as the stack's config file records them. Values that come from
 * elsewhere (an ESC environment, Pulumi.yaml's defaults) are not in the file, and nothing
 * in plain text is in it either.
 */
function readSecretPaths(stack: string): SecretPaths {
    const file = stackConfigFile(stack);
    if (!fs.existsSync(file)) return new SecretPaths();
    return secretPathsFromStackFile(fs.readFileSync(file, "utf8"), PROJECT);
}

/** A raw config value typed like its default (numbers, booleans, maps as JSON); text as given. */
export function typedValue(key: ConfigKey, raw: string): unknown {
    const kind = key in DEFAULTS ? typeof DEFAULTS[key as keyof typeof DEFAULTS] : "string";
    if (kind === "number" && /^\s*-?\d+\s*$/.test(raw)) return Number(raw);
    if (kind === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
    if (kind === "object") {
        try {
            return JSON.parse(raw);
        } catch {
            return raw;
        }
    }
    return raw;
}

/** The stack config as the component's args (validated first; throws a ConfigError naming every bad key). */
export function readStackArgs(): PrivateRegistryArgs {
    const raw: RawConfig = {};
    for (const key of CONFIG_KEYS) {
        const value = pulumi.runtime.getConfig(qualified(key));
        if (value !== undefined) raw[key] = value;
    }
    const stack = pulumi.getStack();
    parseSettings(raw, stack, stackNaming(readSecretPaths(stack)));
    const args: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw) as [ConfigKey, string][]) args[key] = typedValue(key, value);
    return args as unknown as PrivateRegistryArgs;
}
