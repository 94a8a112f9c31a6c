// The distribution registry's config.yml. Pure: settings and the HTTP secret in, YAML out.
import { Settings } from "./settings";
import { renderTemplate } from "./template";

export const REGISTRY_CONFIG_PATH = "/etc/distribution/config.yml";
export const REGISTRY_DATA_DIR = "/var/lib/registry";

export function renderRegistryConfig(s: Settings, httpSecret: string): string {
    if (!/^[A-Za-z0-9]+$/.test(httpSecret)) throw new Error("registry http secret must be alphanumeric");
    return renderTemplate("registry.yml.mustache", { stack: s.stack, filesystem: true, httpSecret });
}
