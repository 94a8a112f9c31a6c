// Reads this project's stack config, once, and hands it to the pure parser: the values from
// the Pulumi runtime (defaults from Pulumi.yaml included), and which of them are encrypted
// from the stack's config file, `Pulumi.<stack>.yaml` in the project directory. Values are
// read raw, so a secret is never copied into a plain Output or echoed by an error message.
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { SecretPaths, secretPathsFromStackFile } from "./secretPaths";
import { CONFIG_KEYS, ConfigKey, parseSettings, PROJECT, qualified, RawConfig, Settings } from "./settings";

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

export function readStackSettings(): Settings {
    const raw: RawConfig = {};
    for (const key of CONFIG_KEYS) {
        const value = pulumi.runtime.getConfig(qualified(key));
        if (value !== undefined) raw[key as ConfigKey] = value;
    }
    const stack = pulumi.getStack();
    return parseSettings(raw, stack, readSecretPaths(stack));
}
