// The `metrics` field: the Prometheus scrape endpoint nginx serves on a port of its own, parsed
// into typed settings. Pure, like everything in settings/. Off by default; on loopback (the
// default address) it may go without a credential, anywhere else it needs one: a password,
// stored as a secret, for basic auth as the user `metrics`.
import { isIP } from "node:net";
import { Fields } from "./fields";
import { show } from "./show";
import type { MetricsSettings, Settings } from "./types";
import { ipScope } from "./validators";

const METRICS_FIELDS = ["enabled", "port", "bindAddress", "password"] as const;
const EXPECTED = "{ enabled: true|false, port?: 9145, bindAddress?: 127.0.0.1, password?: secret }";
/** Defaults of the endpoint's fields. */
export const METRICS_DEFAULTS = { port: 9145, bindAddress: "127.0.0.1" } as const;
/** The basic auth user of the scrape endpoint. */
export const METRICS_USER = "metrics";

/** What is wrong with the endpoint's password (16-128 printable ASCII characters), or undefined. */
export function metricsPasswordProblem(password: string): string | undefined {
    return /^[\x21-\x7e]{16,128}$/.test(password) ? undefined : "expected 16-128 printable ASCII characters without spaces";
}

export function parseMetrics(f: Fields, publish: Settings["publish"]): MetricsSettings {
    const off: MetricsSettings = { enabled: false, port: METRICS_DEFAULTS.port, bindAddress: METRICS_DEFAULTS.bindAddress };
    const value = f.map("metrics", {}, EXPECTED);
    if (value === undefined) return off;
    const v = f.within("metrics", value);
    const count = f.problems.length;
    f.unknownFields("metrics", value, METRICS_FIELDS);
    const enabled = v.flag("enabled", false);
    const port = v.int("port", METRICS_DEFAULTS.port, 1, 65535);
    const bindAddress = v.text("bindAddress", METRICS_DEFAULTS.bindAddress);
    if (isIP(bindAddress) === 0) v.bad("bindAddress", bindAddress, "an IP address such as 127.0.0.1 or 10.0.0.5");
    const password = v.secret("password", value.password, metricsPasswordProblem, "pulumi config set --secret --path metrics.password ...");
    if (port === publish.httpsPort || port === publish.httpPort)
        v.bad("port", String(port), `a port apart from httpPort and httpsPort (${publish.httpPort ?? "-"}, ${publish.httpsPort})`);
    if (enabled && password === undefined && value.password === undefined && isIP(bindAddress) !== 0 && ipScope(bindAddress) !== "loopback")
        v.problem(
            "password",
            `required when metrics.bindAddress is not a loopback address (${show(bindAddress)}): anyone who reaches it could read the metrics. Set one with \`pulumi config set --secret --path metrics.password ...\``,
        );
    if (f.problems.length > count || !enabled) return off;
    return { enabled, port, bindAddress, password };
}
