// Reads this project's stack config from the Pulumi runtime, once, and hands it to the
// pure parser. Values are read raw so that a secret is never copied into a plain Output
// and never echoed by an error message.
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, ConfigKey, parseSettings, qualified, RawConfig, Settings } from "./settings";

// Present at runtime in every @pulumi/pulumi 3.x, absent from its type declarations.
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

export function readStackSettings(): Settings {
    const raw: RawConfig = {};
    const secretKeys = new Set<string>();
    for (const key of CONFIG_KEYS) {
        const value = pulumi.runtime.getConfig(qualified(key));
        if (value !== undefined) raw[key as ConfigKey] = value;
        if (isConfigSecret(qualified(key))) secretKeys.add(key);
    }
    return parseSettings(raw, pulumi.getStack(), secretKeys);
}
